"""A project folder shaped like a real one after a hand run, and a byte-level snapshot to prove it unchanged.

What a user's project holds once they ran their script by hand and worked on it a while: the model it saved, notes,
a checkpoints folder, Hydra's outputs/<date>/<time>/ with its .hydra/ folder and log, a data folder with a large
file and a symlink to it, a config reached through a symlink, a nested package the script imports, a .git folder.
"""

from __future__ import annotations

import hashlib
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from workers.process import RunOutcome, RunSpec, run_process

HAND_RUN = "outputs/2024-05-01/10-11-12"
MODEL = "model from the hand run\n"
NOTES = "# notes\n- lr 0.1 was best\n"
TRAIN_LOG = "[2024-05-01 10:11:12,345][__main__][INFO] - loss=0.52\n"
#: the large data file's size: sparse, so making it costs nothing, but larger than anything a view may copy
BIG_BYTES = 1536 << 20


def make_project(root: Path, big_bytes: int = BIG_BYTES) -> Path:
    """The project folder (root/project), without a script: the test writes the one it needs."""
    project = root / "project"
    for folder in ("configs", "checkpoints", f"{HAND_RUN}/.hydra", "data", "pkg/models", ".git/refs"):
        (project / folder).mkdir(parents=True, exist_ok=True)
    (project / "model.txt").write_text(MODEL)
    (project / "notes.md").write_text(NOTES)
    (project / "configs" / "base.yaml").write_text("lr: 0.1\nepochs: 3\n")
    os.symlink("base.yaml", project / "configs" / "current.yaml")
    (project / "checkpoints" / "last.ckpt").write_bytes(bytes(range(256)) * 16)
    (project / HAND_RUN / ".hydra" / "config.yaml").write_text("lr: 0.1\n")
    (project / HAND_RUN / ".hydra" / "hydra.yaml").write_text("hydra:\n  run:\n    dir: outputs/${now:%Y-%m-%d}\n")
    (project / HAND_RUN / ".hydra" / "overrides.yaml").write_text("[]\n")
    (project / HAND_RUN / "train.log").write_text(TRAIN_LOG)
    (project / "data" / "train.csv").write_text("x,y\n1,2\n3,4\n")
    with open(project / "data" / "big.bin", "wb") as handle:
        handle.write(b"BIG!")
        handle.truncate(big_bytes)
    os.symlink("big.bin", project / "data" / "latest.bin")
    (project / "pkg" / "__init__.py").write_text("")
    (project / "pkg" / "models" / "__init__.py").write_text("")
    (project / "pkg" / "models" / "mlp.py").write_text("def describe(k):\n    return f'mlp {k}'\n")
    (project / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return project


def snapshot(folder: Path, skip: tuple[str, ...] = ("runs",)) -> dict[str, tuple[object, ...]]:
    """Every entry under `folder` (not `skip` at the top): kind, mode, size, mtime and content digest (a large
    file's first and last MiB), link targets. Equal snapshots: not one byte, name or time of it changed."""
    found: dict[str, tuple[object, ...]] = {}
    for root, dirs, files in os.walk(folder):
        rel_root = os.path.relpath(root, folder)
        if rel_root == ".":
            dirs[:] = [d for d in dirs if d not in skip]
        for name in sorted(dirs + files):
            path = os.path.join(root, name)
            rel = os.path.normpath(os.path.join(rel_root, name))
            info = os.lstat(path)
            if os.path.islink(path):
                found[rel] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                found[rel] = ("dir", info.st_mode, sorted(os.listdir(path)))
            else:
                digest = hashlib.sha256()
                with open(path, "rb") as handle:
                    digest.update(handle.read(1 << 20))
                    if info.st_size > 2 << 20:
                        handle.seek(-(1 << 20), os.SEEK_END)
                    digest.update(handle.read())
                found[rel] = ("file", info.st_mode, info.st_size, info.st_mtime_ns, info.st_ino, digest.hexdigest())
    return found


def files_of(run_dir: Path) -> dict[str, str]:
    """What a run folder holds besides tuner.d/: relative path -> text (or '<link ...>', '<special>', and an empty
    folder as 'path/' -> '<empty>')."""
    found: dict[str, str] = {}
    for root, dirs, files in os.walk(run_dir):
        rel_root = os.path.relpath(root, run_dir)
        if rel_root == ".":
            dirs[:] = [d for d in dirs if d != "tuner.d"]
        if rel_root != "." and not dirs and not files:
            found[rel_root + "/"] = "<empty>"
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            path = os.path.join(root, name)
            rel = os.path.normpath(os.path.join(rel_root, name))
            if os.path.islink(path):
                found[rel] = f"<link {os.readlink(path)}>"
            elif not os.path.isfile(path):
                found[rel] = "<special>"
            else:
                found[rel] = Path(path).read_text(errors="replace")
    return found


#: a trial as users write them: it reads the project, then rewrites, appends, adds, renames and deletes in it
TRIAL = """
import argparse, os, time
from pkg.models.mlp import describe  # a nested package of the project: Python writes its bytecode on import
p = argparse.ArgumentParser(); p.add_argument("--k", type=int); p.add_argument("--absolute", default="")
args = p.parse_args()
k = args.k
open("seen.txt", "w").write(open("model.txt").read())  # what this trial saw: the project's, never another trial's
open("model.txt", "w").write(f"model of trial {k}\\n")
open("notes.md", "a").write(f"- trial {k}: {describe(k)}\\n")
open("checkpoints/last.ckpt", "wb").write(f"ckpt {k}".encode())
open(f"checkpoints/epoch-{k}.ckpt", "wb").write(b"e")
os.rename("HAND/train.log", "HAND/train.log.1")
os.remove("data/train.csv")
open("configs/current.yaml", "a").write(f"k: {k}\\n")  # through the project's own symlink
assert open("data/latest.bin", "rb").read(4) == b"BIG!"
if args.absolute:  # the project's own path, as a script that was handed it writes
    open(os.path.join(args.absolute, "abs.txt"), "w").write(str(k))
time.sleep(0.3)  # the trials overlap
print("loss: 0.5")
""".replace("HAND", HAND_RUN)


def trial_spec(project: Path, runs: Path, k: int, view: str = "auto", env: dict[str, str] | None = None,
               script: str = "train.py", python: str = sys.executable, absolute: bool = False) -> RunSpec:
    # Python writes the bytecode of the project's modules, as it does for users (this test machine turns it off)
    env = {"PYTHONDONTWRITEBYTECODE": "", **(env or {})}
    run = runs / f"run-{k}"
    meta = run / "tuner.d"
    meta.mkdir(parents=True)
    argv = (f"--k={k}",) + ((f"--absolute={project}",) if absolute else ())
    return RunSpec(command=(python, str(project / script), *argv), cwd=str(project), run_dir=str(run),
                   run_json=str(meta / "run.json"), output_log=str(meta / "output.log"),
                   error_json=str(meta / "error.json"), record={"name": run.name}, env=env,
                   project_dir=str(project), runs_dir=str(runs), project_view=view)


def run_trials(project: Path, runs: Path, count: int, view: str = "auto", absolute: bool = True
               ) -> list[RunOutcome]:
    specs = [trial_spec(project, runs, k, view, absolute=absolute) for k in range(count)]
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run_process, specs))


def expected_files(k: int, absolute: bool) -> dict[str, str]:
    files = {"seen.txt": MODEL, "model.txt": f"model of trial {k}\n", "notes.md": NOTES + f"- trial {k}: mlp {k}\n",
             "checkpoints/last.ckpt": f"ckpt {k}", f"checkpoints/epoch-{k}.ckpt": "e",
             f"{HAND_RUN}/train.log.1": TRAIN_LOG, "configs/base.yaml": f"lr: 0.1\nepochs: 3\nk: {k}\n"}
    if absolute:
        files["abs.txt"] = str(k)
    return files

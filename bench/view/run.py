"""What a run's view of the project costs per trial, against the links every run had before (medians, interleaved):

    python bench/view/run.py                      # 40 trials each way, a worker-sized process (120 MB)
    python bench/view/run.py --trials 100 --ballast-mb 0
    setpriv --reuid=65534 --regid=65534 --clear-groups python bench/view/run.py --root /tmp/x   # a user namespace

The project: 10,000 files of 1 KiB in 100 folders and a 1 GiB data file (allocated, not sparse). Each trial is
workers.process.run_process of `/bin/true` (so the figures are the runner's own cost: start, the view, the end),
in this process, made as large as a Ray worker (`--ballast-mb` of touched memory and a few idle threads, as a
worker has: a fork copies that memory's page tables, a vfork does not).

- links: the former rule (the project's top-level entries symlinked into the run folder, the script run there,
  the links removed after: the function as it was, copied below), run_process without a view;
- view: run_process with the project as its view (the mode this machine gives: overlay as root, overlay in a user
  namespace otherwise);
- mirror: the same with `project_view: mirror` (the fallback where overlayfs is unavailable), for comparison.
docs/benchmarks.md records the figures with this command.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

from workers.process import FINISHED, RunSpec, run_process  # noqa: E402
from workers.view import _Kernel, _Overlay, _start_forked, probe_view  # noqa: E402


def link_project(project_dir: str, run_dir: str, exclude: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """The former working-directory rule (workers.process.link_project until the view replaced it)."""
    run_real = os.path.realpath(run_dir)
    excluded = {os.path.realpath(path) for path in exclude}
    links: list[tuple[str, str]] = []
    for name in sorted(os.listdir(project_dir)):
        target = os.path.join(project_dir, name)
        link = os.path.join(run_dir, name)
        real = os.path.realpath(target)
        if (name.startswith(".") and os.path.isdir(target)) or os.path.lexists(link) or real in excluded \
                or run_real == real or run_real.startswith(real + os.sep):
            continue
        os.symlink(target, link)
        links.append((link, target))
    return links


def unlink_project(links: list[tuple[str, str]]) -> None:
    for link, target in links:
        if os.path.islink(link) and os.readlink(link) == target:
            os.unlink(link)


def make_project(root: str) -> str:
    project = os.path.join(root, "project")
    for folder in range(100):
        path = os.path.join(project, "src" if folder == 0 else "data", f"part{folder:03d}")
        os.makedirs(path)
        for index in range(100):
            with open(os.path.join(path, f"f{index:03d}.txt"), "wb") as handle:
                handle.write(b"x" * 1024)
    with open(os.path.join(project, "data", "big.bin"), "wb") as handle:
        os.posix_fallocate(handle.fileno(), 0, 1 << 30)
    for name in ("train.py", "model.txt", "notes.md"):
        with open(os.path.join(project, name), "w") as handle:
            handle.write("x\n")
    os.makedirs(os.path.join(project, "runs"))
    return project


def spec(project: str, name: str, view: str | None) -> RunSpec:
    run = os.path.join(project, "runs", name)
    meta = os.path.join(run, "tuner.d")
    os.makedirs(meta)
    return RunSpec(command=("/bin/true",), cwd=project if view else run, run_dir=run,
                   run_json=os.path.join(meta, "run.json"), output_log=os.path.join(meta, "output.log"),
                   error_json=os.path.join(meta, "error.json"), record={"name": name},
                   project_dir=project if view else None, runs_dir=os.path.join(project, "runs"),
                   project_view=view or "auto")


def one(project: str, name: str, how: str) -> float:
    """Seconds of one trial, run folder made beforehand and removed after (neither counted)."""
    trial = spec(project, name, None if how == "links" else ("mirror" if how == "mirror" else "auto"))
    start = time.perf_counter()
    if how == "links":
        links = link_project(project, trial.run_dir, (os.path.join(project, "runs"),))
        outcome = run_process(trial)
        unlink_project(links)
    else:
        outcome = run_process(trial)
    took = time.perf_counter() - start
    if outcome.status != FINISHED:
        raise RuntimeError(f"{how}: {outcome.status} {outcome.error_message}")
    shutil.rmtree(trial.run_dir)
    return took


def breakdown(project: str, trials: int) -> None:
    """Where a user-namespace start goes: a vfork, a fork with a no-op pre-exec step, and the view's forked start,
    each split into the start and the time from the script's exit to its reaping (the namespaces' teardown)."""
    import subprocess

    kernel = _Kernel()
    found: dict[str, list[float]] = {name: [] for name in ("vfork", "fork start", "fork exit", "view start",
                                                           "view exit")}

    def spawn(command: list[str], cwd: str | None, before: object) -> subprocess.Popen[bytes]:
        return subprocess.Popen(list(command), cwd=cwd, preexec_fn=before)  # type: ignore[arg-type]

    for index in range(trials):
        start = time.perf_counter()
        subprocess.run(["/bin/true"])
        found["vfork"].append(time.perf_counter() - start)
        start = time.perf_counter()
        proc = subprocess.Popen(["/bin/true"], preexec_fn=lambda: None)
        started = time.perf_counter()
        proc.wait()
        found["fork start"].append(started - start)
        found["fork exit"].append(time.perf_counter() - started)
        run, work = os.path.join(project, "runs", f"b{index}"), os.path.join(project, "runs", f".b{index}")
        os.makedirs(run)
        os.makedirs(work)
        overlay = _Overlay((project,), run, work, project, "userxattr,metacopy=off,index=off",
                           (os.path.join(project, "runs"),))
        start = time.perf_counter()
        proc = _start_forked(kernel, (overlay,), ["/bin/true"], project, spawn, None)  # type: ignore[arg-type]
        started = time.perf_counter()
        proc.wait()
        found["view start"].append(started - start)
        found["view exit"].append(time.perf_counter() - started)
    for name, values in found.items():
        print(f"{name:10s} median {statistics.median(values) * 1000:7.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--ballast-mb", type=int, default=120, help="touched memory, as a Ray worker's (83-150 MB)")
    parser.add_argument("--root", help="where to make the project (default: a temporary folder)")
    parser.add_argument("--no-mirror", action="store_true", help="skip the mirror (it copies 10 MB a trial)")
    parser.add_argument("--breakdown", action="store_true",
                        help="only split a user-namespace start into fork, namespaces and teardown")
    args = parser.parse_args()
    ballast = bytearray(args.ballast_mb << 20)
    for offset in range(0, len(ballast), 4096):
        ballast[offset] = 1
    idle = threading.Event()
    for _ in range(4):  # a Ray worker has threads: the view's thread must not need a single-threaded process
        threading.Thread(target=idle.wait, daemon=True).start()
    root = tempfile.mkdtemp(prefix="bench-view-", dir=args.root)
    try:
        os.chmod(root, 0o755)
        made = time.perf_counter()
        project = make_project(root)
        print(f"project: 10,000 files + a 1 GiB file, made in {time.perf_counter() - made:.1f} s")
        if args.breakdown:
            breakdown(project, args.trials)
            return
        mode = probe_view(project, os.path.join(project, "runs"))
        print(f"this machine's view: {mode.mode.value}" + (f" ({mode.reason})" if mode.reason else ""))
        hows = ["links", "view"] + ([] if args.no_mirror else ["mirror"])
        times: dict[str, list[float]] = {how: [] for how in hows}
        for how in hows:  # one of each first: the probe and the caches are not the figures
            one(project, f"warm-{how}", how)
        for index in range(args.trials):
            for how in hows if index % 2 == 0 else reversed(hows):
                times[how].append(one(project, f"t{index}-{how}", how))
        base = statistics.median(times["links"])
        for how in hows:
            median = statistics.median(times[how])
            print(f"{how:7s} median {median * 1000:7.2f} ms a trial  (x{median / base:.2f} the links, "
                  f"{(median - base) * 1000:+.2f} ms)")
    finally:
        shutil.rmtree(root, ignore_errors=True)
        del ballast


if __name__ == "__main__":
    main()

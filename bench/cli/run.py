"""What a user feels at the command line, each beside its baseline in the same run (medians):

    python bench/cli/run.py                  # all three cases (about 3-5 minutes on 2 cores)
    python bench/cli/run.py --only ls        # one of: ls, sweep, grid

- `tune ls` over 10,000 runs (table, `--all`, `--format csv`), each a fresh `tune` process, against a plain
  loop reading every run's JSON in a fresh process;
- a sweep of 2 trivial trials end to end (`tune train.py --flag x=1,2`, Ray started by it, then joining a warm
  cluster kept by `--keep-cluster`) against the same 2 runs with plain `python`, and what the idle warm cluster
  holds (memory, CPU) between commands;
- a grid of 10^6 values (integers, then floats): `tune` to the first trial's start against one parse of the
  integer YAML with PyYAML's C loader.
docs/benchmarks.md records the figures with this command.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "bench", "listing"))

from run import add_sweep_folder, make_runs  # noqa: E402  (bench/listing/run.py)

TUNE = [sys.executable, "-m", "tuner"]
# PYTHONDONTWRITEBYTECODE too: with it (set on some CI and sandbox machines) and no __pycache__, every `tune`
# compiles our ~100 modules from source (~45 ms of a 0.2 s `tune ls`), which no installed copy does (pip
# byte-compiles a wheel; an editable install writes __pycache__ on first import). main() compiles them first.
ENV = {k: v for k, v in os.environ.items() if not k.startswith(("TUNER_", "RAY_", "PYTHONDONTWRITEBYTECODE"))}
ENV["PYTHONPATH"] = REPO


def compile_sources() -> None:
    """Byte-compile tuner and workers as installing them does, so no measured command pays for compiling."""
    import compileall

    for package in ("tuner", "workers"):
        compileall.compile_dir(os.path.join(REPO, package), quiet=1)


def wall(command: list[str], cwd: str, until: str | None = None, env: dict[str, str] | None = None) -> float:
    """Seconds a command takes (or until a file named `until` appears under cwd, then the command is left to end)."""
    full_env = {**ENV, **(env or {})}
    start = time.perf_counter()
    if until is None:
        done = subprocess.run(command, cwd=cwd, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        took = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{command} exited {done.returncode}: {done.stderr.decode(errors='replace')[-2000:]}")
        return took
    proc = subprocess.Popen(command, cwd=cwd, env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = os.path.join(cwd, until)
    while not os.path.exists(marker):
        if proc.poll() is not None:
            raise RuntimeError(f"{command} ended before {until} appeared")
        time.sleep(0.01)
    took = time.perf_counter() - start
    proc.wait()
    return took


def standby_ready(cache: str, timeout_s: float = 120) -> None:
    """Wait until the warm cluster's standby driver (tuner.cli.standby) is ready for a command."""
    import json

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with open(os.path.join(cache, "tuner", "standby.json")) as handle:
                if json.load(handle).get("ready"):
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise RuntimeError("no standby driver became ready")


def median(times: list[float]) -> str:
    return f"{statistics.median(times):.2f} s ({', '.join(f'{t:.2f}' for t in times)})"


def bench_ls(repeat: int) -> list[tuple[str, str]]:
    root = tempfile.mkdtemp(prefix="tuner-bench-cli-ls-")
    try:
        make_runs(os.path.join(root, "runs"), 10_000)
        add_sweep_folder(os.path.join(root, "runs"))
        loop = [sys.executable, "-c", f"import sys; sys.path.insert(0, {os.path.join(REPO, 'bench', 'listing')!r}); "
                "from run import plain_loop; plain_loop('runs')"]
        time.sleep(2.5)  # runs written less than 2 s before a listing are read again by the next (racy)
        wall(TUNE + ["ls", "--format", "csv"], root)  # build the index once: later rows are "nothing changed"
        wall(TUNE + ["ls"], root)  # a clean listing leaves the table's head (tuner.runs.newest): the steady state
        rows = []
        for label, command in (("plain loop reading every run's JSON (baseline)", loop),
                               ("tune ls (table: newest rows that fit)", TUNE + ["ls"]),
                               ("tune ls --all (every row)", TUNE + ["ls", "--all"]),
                               ("tune ls --format csv", TUNE + ["ls", "--format", "csv"])):
            rows.append((label, median([wall(command, root) for _ in range(repeat)])))
        return rows
    finally:
        shutil.rmtree(root, ignore_errors=True)


SCRIPT = "import sys, os\nprint('loss: 0.5')\nopen(os.path.join(os.environ.get('TUNER_RUN_DIR', '.'), 'started'), 'w')\n"


def bench_sweep(repeat: int) -> list[tuple[str, str]]:
    root = tempfile.mkdtemp(prefix="tuner-bench-cli-sweep-")
    try:
        with open(os.path.join(root, "train.py"), "w") as handle:
            handle.write(SCRIPT)
        plain = [sys.executable, "-c", "import subprocess, sys\nfor x in (1, 2): "
                 "subprocess.run([sys.executable, 'train.py', f'--x={x}'], check=True)"]
        rows = [("the same 2 runs with plain python (baseline)", median([wall(plain, root) for _ in range(repeat)])),
                ("tune train.py --flag x=1,2 (starts Ray, 2 trials)",
                 median([wall(TUNE + ["train.py", "--flag", "x=1,2", "--yes", "--quiet"], root) for _ in range(repeat)]))]
        # the same with a warm cluster (--keep-cluster): one sweep starts it, the measured ones join it
        warm = TUNE + ["train.py", "--flag", "x=1,2", "--yes", "--quiet", "--keep-cluster", "300"]
        cache = {"XDG_CACHE_HOME": os.path.join(root, "cache")}  # its own warm cluster, not the user's
        rows.append(("the first with --keep-cluster (starts the warm cluster)", f"{wall(warm, root, env=cache):.2f} s"))
        try:
            standby_ready(cache["XDG_CACHE_HOME"])
            pss_mb, cpu_share = warm_idle_cost(cache["XDG_CACHE_HOME"], IDLE_S)
            rows.append((f"what the idle warm cluster and its standby hold ({IDLE_S:.0f} s idle)",
                         f"{pss_mb:.0f} MB (PSS), {cpu_share:.1%} of the CPUs"))
            ready = []
            for _ in range(repeat):
                standby_ready(cache["XDG_CACHE_HOME"])  # a user types the next command seconds later
                ready.append(wall(warm, root, env=cache))
            rows.append(("the same on a warm cluster, handed to its standby driver (--keep-cluster)", median(ready)))
            rows.append(("the same, back to back (no standby ready yet: joins the warm cluster itself)",
                         median([wall(warm, root, env=cache) for _ in range(repeat)])))
        finally:
            wall(TUNE + ["cluster", "down"], root, env=cache)
        return rows
    finally:
        shutil.rmtree(root, ignore_errors=True)


#: how long the idle warm cluster is watched for its CPU use
IDLE_S = 20.0


def warm_idle_cost(cache: str, seconds: float) -> tuple[float, float]:
    """Memory (PSS, MB) of every process of the warm cluster and its standby driver, and the share of all CPUs they
    use over `seconds` while no sweep runs: the price of keeping the cluster between commands."""
    import json

    sys.path.insert(0, REPO)
    from workers.reaper import descendants, marked
    from workers.warm import WARM_ENV

    with open(os.path.join(cache, "tuner", "warm-cluster.json")) as handle:
        mark = json.load(handle)["mark"]

    def processes() -> dict[int, int]:
        found = marked(mark, WARM_ENV)
        return {**found, **descendants(*found)}  # Ray's agents drop the mark (setproctitle): the raylet's children

    def cpu_ticks(pids: dict[int, int]) -> int:
        total = 0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime + stime
            except (OSError, IndexError, ValueError):
                pass
        return total

    def pss_kb(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                return next(int(line.split()[1]) for line in handle if line.startswith("Pss:"))
        except (OSError, StopIteration, ValueError):
            return 0

    pids = processes()
    memory = sum(pss_kb(pid) for pid in pids) / 1024
    before = cpu_ticks(pids)
    time.sleep(seconds)
    used = (cpu_ticks(pids) - before) / os.sysconf("SC_CLK_TCK")
    return memory, used / seconds / (os.cpu_count() or 1)


def bench_grid(repeat: int) -> list[tuple[str, str]]:
    root = tempfile.mkdtemp(prefix="tuner-bench-cli-grid-")
    try:
        with open(os.path.join(root, "train.py"), "w") as handle:
            handle.write("import os, pathlib\npathlib.Path(os.environ['TUNER_RUN_DIR'], '..', 'first').touch()\n")
        with open(os.path.join(root, "grid.yml"), "w") as handle:
            handle.write("x:\n" + "".join(f"  - {i}\n" for i in range(10**6)))
        with open(os.path.join(root, "floats.yml"), "w") as handle:  # a sampled learning rate, say
            handle.write("lr:\n" + "".join(f"  - {(i * 7919 % 10**6 + 1) / 1e6:.6g}\n" for i in range(10**6)))
        parse = [sys.executable, "-c", "import yaml; yaml.load(open('grid.yml'), Loader=yaml.CSafeLoader)"]
        sweep = TUNE + ["train.py", "--flags", "grid.yml", "--sample", "0.000002", "--yes", "--quiet"]
        floats = TUNE + ["train.py", "--flags", "floats.yml", "--sample", "0.000002", "--yes", "--quiet"]

        def to_first(command: list[str], env: dict[str, str] | None = None) -> list[float]:
            times = []
            for _ in range(repeat):
                shutil.rmtree(os.path.join(root, "runs"), ignore_errors=True)
                if env is not None:
                    standby_ready(env["XDG_CACHE_HOME"])
                times.append(wall(command, root, until="runs/first", env=env))
            return times

        rows = [("one parse with PyYAML's C loader (baseline)", median([wall(parse, root) for _ in range(repeat)])),
                ("tune over 10^6 values: to the first trial", median(to_first(sweep))),
                ("the same with 10^6 float values", median(to_first(floats)))]
        warm, cache = sweep + ["--keep-cluster", "300"], {"XDG_CACHE_HOME": os.path.join(root, "cache")}
        wall(warm, root, env=cache)
        try:
            rows.append(("the same on a warm cluster (handed to its standby driver)", median(to_first(warm, cache))))
        finally:
            wall(TUNE + ["cluster", "down"], root, env=cache)
        return rows
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("ls", "sweep", "grid"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cases = {"ls": bench_ls, "sweep": bench_sweep, "grid": bench_grid}
    compile_sources()
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}; medians of {args.repeat}\n")
    print(f"| {'what':<52} | {'wall time':<34} |\n|{'-' * 54}|{'-' * 36}|")
    for name, case in cases.items():
        if args.only in (None, name):
            for label, value in case(args.repeat):
                print(f"| {label:<52} | {value:<34} |", flush=True)
    print("\nratios matter: every row ran on the same machine in the same run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

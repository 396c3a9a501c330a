"""Two nodes without a shared filesystem, on one machine: a head node with no CPUs (`ray start --head
--num-cpus=0`) and a worker node in its own mount namespace, where a tmpfs over /tmp hides the project folder,
its runs directory and the head's Ray session. Every trial runs where the driver's files are invisible: the
project is shipped to the worker, each run comes back complete, and nothing is left on the worker."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.projects import TRIAL, expected_files, files_of, make_project
from tests.workers_tests.clusters import (
    BIN,
    MARK,
    Cluster,
    clean_env,
    free_port,
    hide_tmp_but,
    marked_pids,
    run_tune_clean,
    under_tmp,
)

pytestmark = [pytest.mark.slow, pytest.mark.ray]

#: the worker node's address: another loopback address, so the driver (127.0.0.1) never takes its raylet for local
WORKER_IP = "127.0.0.2"

SCRIPT = """
import argparse, sys, time
from helper import GREETING  # a module of the project: shipped with it
p = argparse.ArgumentParser(); p.add_argument("--mode"); a = p.parse_args()
print(GREETING, a.mode, flush=True)
print("loss: 0.25", flush=True)
with open("artifact.txt", "w") as f:  # the script's working directory: lands in its run
    f.write(f"made by {a.mode}")
if a.mode == "fail":
    print("going down", file=sys.stderr)
    sys.exit(3)
if a.mode.startswith("slow"):
    time.sleep(60)
if a.mode.startswith("nap"):
    time.sleep(6)
"""


def _unshare_works() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", "mount -t tmpfs tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


class WorkerNode:
    """`ray start --address HEAD --num-cpus=2 --block` inside `unshare -m` with a fresh tmpfs over /tmp, marked
    like the head's processes so Cluster.stop() kills it by pid too."""

    def __init__(self, head: Cluster, cpus: int = 2) -> None:
        self.head = head
        env = clean_env(Path("/tmp/home"), **{MARK: head.mark})
        # the checkout and its venv stay visible when they live under /tmp (a clone in the system temp folder)
        self.shown = under_tmp()
        start = (f'{hide_tmp_but(self.shown)} && mkdir -p /tmp/home && exec "$0" start --address="$1" '
                 f'--num-cpus={cpus} --node-ip-address={WORKER_IP} --disable-usage-stats --block '
                 f'--dashboard-agent-listen-port={free_port()}')
        self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", start,
                                      f"{BIN}/ray", head.address], env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not self._joined():
            if self.proc.poll() is not None:
                raise RuntimeError(f"the worker node did not start: {self.proc.stderr.read().decode()}")
            if time.monotonic() > deadline:
                raise RuntimeError("the worker node did not join the head within 60 s")
            time.sleep(1)

        # every process of this node lives in its mount namespace (unshare execs into it): that is how it is
        # told from the head's and other nodes' processes, which carry the same mark. The open handle keeps the
        # namespace (and so its id) from being reused by the next node's once this one's processes are gone.
        self._namespace_fd = os.open(f"/proc/{self.proc.pid}/ns/mnt", os.O_RDONLY)
        self.namespace = os.readlink(f"/proc/{self.proc.pid}/ns/mnt")

    def _joined(self) -> bool:
        status = subprocess.run([f"{BIN}/ray", "status", f"--address={self.head.address}"], env=self.head.env,
                                capture_output=True, text=True, timeout=60)
        return "/2.0 CPU" in status.stdout

    def pids(self) -> list[int]:
        """This node's processes: the raylet, its workers, the trials they started, `ray start` itself."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.readlink(f"/proc/{entry}/ns/mnt") == self.namespace:
                        found.append(int(entry))
                except OSError:
                    continue
        return found

    def kill(self) -> None:
        """The node dies at once (power cut): SIGKILL to every process of it, none of the head's."""
        for _ in range(5):
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.3)
        self.proc.wait(timeout=10)

    def release(self) -> None:
        """Let go of the namespace (the node's tmpfs goes with it): after the checks on a killed node."""
        os.close(self._namespace_fd)

    def tmp(self) -> Path:
        """The worker's /tmp, seen from outside its mount namespace."""
        return Path(f"/proc/{self.proc.pid}/root/tmp")


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory):
    if not _unshare_works():
        pytest.skip("needs root and `unshare -m` (a private mount namespace for the worker node)")
    home = tmp_path_factory.mktemp("head-home")
    head = Cluster(home, num_cpus=0)
    try:
        nodes = [head, WorkerNode(head)]
        yield nodes  # (a list: the node-kill test puts the node that replaced the killed one in it)
    finally:
        head.stop()
        assert not marked_pids(head.mark)


def _runs(project: Path) -> dict[str, tuple[Path, dict]]:
    """mode -> (run folder, run.json) of every run the driver has."""
    runs = {}
    for run_json in (project / "runs").glob("*/tuner.d/run.json"):
        try:
            run = json.loads(run_json.read_text())
        except ValueError:
            continue
        runs[run["argv"][0].split("=", 1)[1]] = (run_json.parent.parent, run)
    return runs


def _left_on_worker(worker: WorkerNode, names: set[str]) -> list[str]:
    assert (worker.tmp() / "home").is_dir()  # (that is the worker's tmpfs, not the driver's /tmp)
    shown = {str(worker.tmp() / os.path.relpath(p, "/tmp")) for p in worker.shown}  # the checkout bound back
    left = []
    for folder, dirs, files in os.walk(worker.tmp()):
        dirs[:] = [d for d in dirs if os.path.join(folder, d) not in shown]
        left += [os.path.join(folder, n) for n in dirs + files if n in names or n.startswith("tuner-run-")]
    return left


@contextlib.contextmanager
def _background_tune(project: Path, head: Cluster) -> Iterator[subprocess.Popen[str]]:
    """`tune train.py --flags grid.yml --address HEAD` in its own session (a shell's job), killed if still running
    when the block ends."""
    tune = subprocess.Popen([os.path.join(BIN, "python"), "-m", "tuner", "train.py", "--flags", "grid.yml",
                             "--address", head.address, "--yes"], cwd=project, start_new_session=True,
                            env=clean_env(head.home, TUNER_HEARTBEAT_S="1"), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        yield tune
    finally:
        if tune.poll() is None:
            os.killpg(tune.pid, signal.SIGKILL)
            tune.wait()


def _project(root: Path) -> Path:
    project = root / "project"
    project.mkdir()
    (project / "train.py").write_text(SCRIPT)
    (project / "helper.py").write_text("GREETING = 'hello from the project'\n")
    (project / "grid.yml").write_text("mode: [ok, fail, slow]\n")
    return project


def test_every_trial_runs_on_a_node_without_the_project_and_comes_back_complete(two_nodes, tmp_path):
    head, worker = two_nodes
    project = _project(tmp_path)
    assert not (worker.tmp() / project.relative_to("/tmp")).exists()  # the worker cannot see the project

    done = run_tune_clean("train.py", "--flags", "grid.yml", "--address", head.address, "--timeout", "8", "--yes",
                          cwd=project, home=head.home, timeout=170)
    runs = _runs(project)
    assert sorted(runs) == ["fail", "ok", "slow"], done.stdout + done.stderr
    assert {mode: run["status"] for mode, (_, run) in runs.items()} == \
        {"ok": "finished", "fail": "failed", "slow": "timeout"}, done.stdout + done.stderr

    nodes = {run["resources"]["node_id"] for _, run in runs.values()}
    assert len(nodes) == 1  # the worker node: the head has no CPU
    for mode, (run_dir, run) in runs.items():
        assert run["cwd"] == str(project) and run["script"] == str(project / "train.py")  # the driver's paths
        output = (run_dir / "tuner.d" / "output.log").read_text()
        assert f"hello from the project {mode}" in output
        assert (run_dir / "artifact.txt").read_text() == f"made by {mode}"
        metrics = [json.loads(line) for line in (run_dir / "tuner.d" / "metrics.jsonl").read_text().splitlines()]
        assert metrics and metrics[0]["loss"] == 0.25
        assert not [p for p in run_dir.iterdir() if p.is_symlink()]  # nothing of the project is linked in
    assert runs["fail"][1]["exit_code"] == 3
    assert "going down" in (runs["fail"][0] / "tuner.d" / "output.log").read_text()

    # nothing of the runs is left on the worker node: no run folder anywhere in its /tmp
    names = {run_dir.name for run_dir, _ in runs.values()}
    assert not _left_on_worker(worker, names)

    listing = run_tune_clean("ls", cwd=project, home=head.home, timeout=60)
    assert listing.returncode == 0, listing.stderr
    for name in names:
        assert name in listing.stdout


def test_a_remote_trial_works_in_a_view_of_the_shipped_project_and_brings_home_what_it_made(two_nodes, tmp_path):
    """On a node without the driver's files the shipped copy is the project the view shows: trials one after
    another on that node each see it as shipped (none sees what another wrote), and each run comes home holding
    the files it made, nothing else."""
    head, worker = two_nodes
    project = make_project(tmp_path, big_bytes=2 << 20)  # shipped, so under Ray's limit; still larger than copied
    (project / "train.py").write_text(TRIAL)
    done = run_tune_clean("train.py", "--flag", "k=0,1,2", "--max-concurrent", "1", "--address", head.address,
                          "--yes", cwd=project, home=head.home, timeout=170)
    assert done.returncode == 0, done.stdout + done.stderr
    runs = sorted((project / "runs").glob("*/tuner.d/run.json"))
    assert len(runs) == 3, done.stdout + done.stderr
    for run_json in runs:
        run_dir, run = run_json.parent.parent, json.loads(run_json.read_text())
        k = json.loads((run_dir / "tuner.d" / "flags.json").read_text())["k"]
        assert run["view"]["mode"] == "overlay" and run["resources"]["node_id"], run["view"]
        files = files_of(run_dir)
        # Ray's copy has the project's symlinks as files: the append lands in whichever of the two it reached
        appended = files.pop("configs/base.yaml", None) or files.pop("configs/current.yaml")
        assert appended.endswith(f"k: {k}\n")
        expected = expected_files(k, absolute=False)
        del expected["configs/base.yaml"]
        assert files == expected  # seen.txt: the shipped model, as shipped, for every trial
    assert not _left_on_worker(worker, {p.parent.parent.name for p in runs})


def test_remote_trials_show_running_with_a_heartbeat_and_ctrl_c_brings_them_back_killed(two_nodes, tmp_path):
    head, worker = two_nodes
    project = _project(tmp_path)
    (project / "grid.yml").write_text("mode: [slow, slower]\n")
    with _background_tune(project, head) as tune:
        # while they run on the worker, the driver's run.json says running, and the heartbeat moves on
        first: dict[str, float] = {}
        beating: set[str] = set()
        deadline = time.monotonic() + 60
        while beating != {"slow", "slower"} and time.monotonic() < deadline and tune.poll() is None:
            for mode, (_, run) in _runs(project).items():
                if run["status"] == "running":
                    first.setdefault(mode, run["heartbeat"])
                    if run["heartbeat"] > first[mode]:
                        beating.add(mode)
            time.sleep(0.3)
        assert beating == {"slow", "slower"}, tune.stdout.read() if tune.poll() is not None else "still running"

        os.killpg(tune.pid, signal.SIGINT)  # Ctrl-C in the shell that runs `tune`
        output, _ = tune.communicate(timeout=60)
    runs = _runs(project)
    assert {mode: run["status"] for mode, (_, run) in runs.items()} == {"slow": "killed", "slower": "killed"}, output
    for mode, (run_dir, _run) in runs.items():
        assert f"hello from the project {mode}" in (run_dir / "tuner.d" / "output.log").read_text()
        assert (run_dir / "artifact.txt").read_text() == f"made by {mode}"
    assert "cancelled before it started" not in output
    assert not _left_on_worker(worker, {run_dir.name for run_dir, _ in runs.values()})


def test_a_project_too_big_to_ship_is_one_line_naming_rayignore_and_no_ship(two_nodes, tmp_path):
    head, _worker = two_nodes
    project = _project(tmp_path)
    (project / "data.bin").write_bytes(os.urandom(3 << 20))  # over the 2 MiB limit set below, however zipped
    done = run_tune_clean("train.py", "--flags", "grid.yml", "--address", head.address, "--yes", cwd=project,
                          home=head.home, timeout=120, RAY_max_grpc_message_size=str(2 << 20))
    assert done.returncode == 2, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, done.stderr
    assert "cannot ship the project folder" in errors[0] and ".rayignore" in errors[0] and "--no-ship" in errors[0]
    assert not list((project / "runs").glob("*/tuner.d/run.json"))


def test_killing_the_worker_node_mid_sweep_loses_no_trial(two_nodes, tmp_path):
    head, node_a = two_nodes
    project = _project(tmp_path)
    (project / "grid.yml").write_text("mode: [nap1, nap2, nap3]\n")  # 6 s each; 2 at a time on a 2-CPU node
    with _background_tune(project, head) as tune:
        deadline = time.monotonic() + 60
        running: set[str] = set()
        while len(running) < 2 and time.monotonic() < deadline and tune.poll() is None:
            running = {mode for mode, (_, run) in _runs(project).items() if run["status"] == "running"}
            time.sleep(0.2)
        assert len(running) == 2, tune.stdout.read() if tune.poll() is not None else "still running"
        on_a = {run["resources"]["node_id"] for _, run in _runs(project).values() if run["status"] == "running"}
        assert len(on_a) == 1

        node_a.kill()  # mid-trial: its raylet, workers and trials die at once
        assert not node_a.pids()
        node_b = WorkerNode(head)  # the head has no CPU: only this node can run what was lost
        two_nodes[1] = node_b
        output, _ = tune.communicate(timeout=120)
    runs = _runs(project)
    assert tune.returncode == 0, output  # Ray retried the trials of the dead node on the new one
    assert sorted(runs) == ["nap1", "nap2", "nap3"], output  # one run per combination, none twice
    assert len(list((project / "runs").glob("*/tuner.d/run.json"))) == 3, output
    for mode, (run_dir, run) in runs.items():
        assert run["status"] == "finished", (mode, run, output)
        assert f"hello from the project {mode}" in (run_dir / "tuner.d" / "output.log").read_text()
        metrics = [json.loads(line) for line in (run_dir / "tuner.d" / "metrics.jsonl").read_text().splitlines()]
        assert metrics and metrics[0]["loss"] == 0.25
        assert (run_dir / "artifact.txt").read_text() == f"made by {mode}"
    on_b = {run["resources"]["node_id"] for _, run in runs.values()}
    assert len(on_b) == 1 and on_b != on_a  # the two killed mid-run ran again from the start, on node B
    assert not _left_on_worker(node_b, {run_dir.name for run_dir, _ in runs.values()})
    assert not node_a.pids()  # nothing of node A survived
    node_a.release()


CHECKPOINTING = """
import argparse, json, os, time
p = argparse.ArgumentParser()
p.add_argument("--lr", type=float); p.add_argument("--epochs", type=int); p.add_argument("--nap", type=float)
a = p.parse_args()
state = os.path.join(os.environ["TUNER_CHECKPOINT_DIR"], "state.json")
start = json.load(open(state))["epoch"] if os.path.exists(state) else 0
print("started at", start, "on", os.uname().nodename, flush=True)
for epoch in range(start + 1, a.epochs + 1):
    time.sleep(a.nap)
    with open(state + ".tmp", "w") as f:
        json.dump({"epoch": epoch}, f)
    os.replace(state + ".tmp", state)
    print(f"epoch {epoch} loss={1 / (epoch * a.lr):.4f}", flush=True)
"""


def _saved_epoch(project: Path, trial: int) -> int:
    sweeps = list((project / "runs" / "sweeps").glob("*/trials"))
    try:
        return json.loads((sweeps[0] / str(trial) / "checkpoint" / "state.json").read_text())["epoch"]
    except (IndexError, OSError, ValueError):
        return 0


def test_a_trial_on_a_lost_node_continues_from_its_relayed_checkpoint_on_another_node(two_nodes, tmp_path):
    """No shared filesystem: the trial's checkpoint folder reaches the driver while the trial runs (the relay), so
    when its node dies the trial continues on the next node from the last checkpoint, not from epoch 1."""
    head, node_a = two_nodes
    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text(CHECKPOINTING)
    (project / "grid.yml").write_text("lr: [0.1, 0.2]\nepochs: 10\nnap: 1.0\n")
    with _background_tune(project, head) as tune:
        deadline = time.monotonic() + 90
        while min(_saved_epoch(project, 0), _saved_epoch(project, 1)) < 3 and time.monotonic() < deadline:
            assert tune.poll() is None, tune.stdout.read()
            time.sleep(0.2)
        reached = {trial: _saved_epoch(project, trial) for trial in (0, 1)}
        assert min(reached.values()) >= 3  # checkpoints came home from the node while the trials ran
        node_a.kill()
        node_b = WorkerNode(head)
        two_nodes[1] = node_b
        output, _ = tune.communicate(timeout=180)
    assert tune.returncode == 0, output
    runs = [json.loads(p.read_text()) for p in (project / "runs").glob("*/tuner.d/run.json")]
    assert len(runs) == 2, output
    for run in runs:
        run_dir = project / "runs" / run["name"]
        steps = [json.loads(line)["step"] for line in (run_dir / "tuner.d" / "metrics.jsonl").read_text().splitlines()]
        assert run["status"] == "finished" and steps[-1] == 10, (run, output)
        # continued after the last checkpoint the driver had (at most one relay interval older than the node's)
        assert steps[0] > reached[run["trial"]] and steps == list(range(steps[0], 11)), (steps, reached)
        assert run["resumed_from"] == {"run": run["name"], "step": steps[0]}
        assert _saved_epoch(project, run["trial"]) == 10  # the final checkpoint came home with the run
    assert not _left_on_worker(node_b, {p["name"] for p in runs})
    node_a.release()

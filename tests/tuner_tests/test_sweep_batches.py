"""Short trials go to the cluster several to a task (tuner.sweep.loop.batch_size, workers.pool._run_batch): each is
still its own run with its own process and its own result, and a batch whose worker dies loses nothing that ended.

The sizes of the tasks are seen by wrapping TaskPool.submit (a spy: every task still goes to the real cluster)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tuner import tuning_run
from workers import pool

pytestmark = [pytest.mark.slow, pytest.mark.ray]


@pytest.fixture
def task_sizes(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The trial indices of every task the sweep submits, in order."""
    seen: list[list[int]] = []
    submit = pool.TaskPool.submit

    def spy(self: pool.TaskPool, items: list) -> None:
        seen.append([key for key, _spec in items])
        submit(self, items)

    monkeypatch.setattr(pool.TaskPool, "submit", spy)
    return seen


QUICK = """
    import argparse, os
    p = argparse.ArgumentParser(); p.add_argument("--x", type=int); a = p.parse_args()
    with open({ran!r}, "a") as f:
        f.write(f"{{a.x}}\\n")  # every execution, attempts included
    if a.x == {doomed}:  # every attempt kills the Ray worker that runs it (a node that keeps dying)
        os.kill(os.getppid(), 9)
    print(f"loss: {{a.x / 1000}}")
    print(f"pid: {{os.getpid()}}")
"""


def test_short_trials_share_tasks_and_each_keeps_its_own_run_process_and_result(ray_cluster, workdir, write_script,
                                                                               task_sizes, tmp_path_factory):
    ran = tmp_path_factory.mktemp("shared") / "ran.txt"  # outside the project: in its view a trial's writes are its own
    write_script("quick.py", QUICK.format(ran=str(ran), doomed=-1))
    result = tuning_run("quick.py", {"x": list(range(40))}, confirm=False, quiet=True)
    assert max(len(task) for task in task_sizes) > 1, task_sizes  # sub-second trials were batched
    assert sorted(index for task in task_sizes for index in task) == list(range(40))  # each sent once
    assert list(result.status) == ["finished"] * 40 and result.run_dir.nunique() == 40
    # no trial got another's flags or result, and each ran in a process of its own
    assert sorted(result.flag_x) == list(range(40))
    assert (result.metric_loss == result.flag_x / 1000).all()
    assert result.metric_pid.nunique() == 40
    assert sorted(int(line) for line in ran.read_text().split()) == list(range(40))


def test_a_batch_whose_worker_keeps_dying_loses_only_the_trial_that_kills_it(ray_cluster, workdir, write_script,
                                                                            task_sizes, monkeypatch, tmp_path_factory):
    """Ray runs the batch again (3 times): the trials of it that had ended are not run again, the one that kills
    the worker is `lost` at last, and those after it, which never started, go back to the queue and run.
    Batches of 4 from the start (the size policy is the other test's), so the doomed trial is second in its own."""
    from tuner.sweep.loop import _SweepLoop

    monkeypatch.setattr(_SweepLoop, "batch_size", lambda self: 4 if self.batching else 1)
    ran = tmp_path_factory.mktemp("shared") / "ran.txt"  # outside the project (see above)
    doomed = 21
    write_script("quick.py", QUICK.format(ran=str(ran), doomed=doomed))
    result = tuning_run("quick.py", {"x": list(range(40))}, confirm=False, quiet=True)
    batch = next(task for task in task_sizes if doomed in task)
    assert batch == [20, 21, 22, 23], task_sizes
    statuses = dict(zip(result.flag_x, result.status))
    assert statuses.pop(doomed) == "lost"
    assert set(statuses.values()) == {"finished"} and len(statuses) == 39
    finished = result[result.flag_x != doomed]
    assert (finished.metric_loss == finished.flag_x / 1000).all()  # each with its own printed metric
    executions = [int(line) for line in ran.read_text().split()]
    assert executions.count(doomed) == 1 + pool.NODE_FAILURE_RETRIES
    assert sorted(x for x in executions if x != doomed) == [x for x in range(40) if x != doomed]  # each once
    later = task_sizes[task_sizes.index(batch) + 1:]
    assert [22] in later and [23] in later  # sent again, one to a task: batching is off after a failed batch
    assert all(len(task) == 1 for task in task_sizes[task_sizes.index([22]):])
    assert Path(result.run_dir[result.flag_x == doomed].iloc[0]).is_dir()

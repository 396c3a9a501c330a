"""The sweep's progress line: unambiguous labels, interrupted trials apart from failed ones, a sane ETA."""

from __future__ import annotations

from tuner.sweep.progress import SweepProgress


def test_label_counts_trials_done_running_failed_and_interrupted():
    progress = SweepProgress(10, None, "max")
    for _ in range(3):
        progress.trial_started()
    progress.trial_done("a", "finished", 1.0, None)
    progress.trial_done("b", "failed", 1.0, None, will_retry=True)  # an attempt, not a trial
    assert progress.status_text() == "1/10 trials done · 1 running"
    progress.trial_started()
    progress.trial_done("b", "failed", 1.0, None)
    progress.trial_done("c", "killed", 1.0, None)
    assert progress.status_text() == "3/10 trials done · 0 running · 1 failed · 1 interrupted"


def test_eta_is_the_throughput_so_far_times_the_trials_left():
    progress = SweepProgress(10, None, "max")
    assert progress.eta_s() is None  # nothing done yet: no guess
    progress.trial_started()
    progress.trial_started()
    progress.trial_done("a", "finished", 3.0, None)
    progress.trial_done("b", "finished", 3.0, None)
    # 2 of 10 done after 3 s: 8 left at 1.5 s each
    assert progress.eta_s(now=progress.started + 3.0) == 12.0
    progress.skipped(8)
    assert progress.eta_s() == 0.0


def test_a_failed_trial_is_one_line_with_its_error_said_once(capsys):
    progress = SweepProgress(2, None, "max")
    progress.trial_done("a", "failed", 1.0, None, exit_code=3, error="exit status 3")  # the script left no error
    progress.trial_done("b", "failed", 1.0, None, exit_code=1, error="ValueError: bad lr")
    assert capsys.readouterr().err.splitlines() == ["trial a FAILED: exit status 3",
                                                    "trial b FAILED: exit status 1; ValueError: bad lr"]


def test_a_multi_objective_sweep_says_the_size_of_its_live_front_never_a_best(capsys):
    progress = SweepProgress(7, None, "max", objectives=[("f1", "min"), ("f2", "max")])
    for _ in range(7):
        progress.trial_started()
    assert progress.status_text() == "0/7 trials done · 7 running"  # no front before a finished trial
    progress.trial_done("a", "finished", 1.0, None, values=[0.0, 0.0])
    assert progress.status_text() == "1/7 trials done · 6 running · front: 1 run"
    progress.trial_done("b", "finished", 1.0, None, values=[1.0, 1.0])  # worse f1, better f2: on the front too
    progress.trial_done("c", "finished", 1.0, None, values=[1.0, 0.5])  # b beats it on both
    progress.trial_done("d", "finished", 1.0, None, values=[0.5, 0.5], feasible=False)  # breaks a constraint
    progress.trial_done("e", "stopped", 1.0, None, values=[0.1, 2.0])  # stopped early: on no front
    progress.trial_done("f", "finished", 1.0, None, values=[0.2, None])  # lacks f2: on no front
    assert progress.status_text() == "6/7 trials done · 1 running · 1 stopped · front: 2 runs"
    progress.trial_done("g", "finished", 1.0, None, values=[0.0, 1.0])  # beats a and b: the front is g alone
    assert progress.status_text() == "7/7 trials done · 0 running · 1 stopped · front: 1 run"
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "[7/7] finished g in 1.0s f1=0 f2=1 | front: 1 run"
    assert not any("best" in line for line in lines)

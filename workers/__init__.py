"""Execution: run one trial as a subprocess (workers.process) and many as Ray tasks (workers.pool, on a cluster that
workers.cluster connects to).

This package never imports `tuner`; it receives plain specs and returns plain outcomes.
`import ray` happens at the top of workers.cluster and workers.pool only (tests/tuner_tests/test_layout.py), so importing
workers.process stays cheap.
"""

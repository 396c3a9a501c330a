"""Execution: run one trial as a subprocess (workers.process) and many as Ray tasks (workers.driver).

This package never imports `tuner`; it receives plain specs and returns plain outcomes.
`import ray` happens only inside workers.driver, so importing workers.process stays cheap.
"""

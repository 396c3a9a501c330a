"""Search: spaces (space.py), samplers (samplers.py), early-stopping rules (stopping.py) and the sweep
driver's ask/tell/poll glue (driver.py). Optuna is imported only by samplers.py, and only for tpe/cmaes/gp."""

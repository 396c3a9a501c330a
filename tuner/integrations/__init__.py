"""Integrations with training libraries, each imported only when its user imports it (tuner.keras ...)."""

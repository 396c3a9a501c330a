"""Keras: epoch metrics and the training setup recorded without a line of logging code.

    from tuner.keras import MetricsCallback, autolog
    model.fit(x, y, epochs=10, callbacks=[MetricsCallback()])   # or, once at the top: autolog()

Importing this module imports Keras (and so TensorFlow); `import tuner` never does.
"""

from __future__ import annotations

from tuner.integrations.keras import MetricsCallback, autolog

__all__ = ["MetricsCallback", "autolog"]

"""Runs shown in other tools: TensorBoard (and, as extras, MLflow)."""

"""What a run leaves behind, captured: source snapshots, git state, artifacts, printed and TensorBoard metrics."""

"""The runs directory on disk: run layout and file names, statuses, metadata files, sweep journals."""

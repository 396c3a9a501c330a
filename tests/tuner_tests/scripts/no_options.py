import pathlib

pathlib.Path("ran.json").write_text("{}")  # parses nothing: `tune flags` must not run it

"""Terminal output: tables, the sweep progress display, prompts. With tuner.cli, the only code that prints."""

"""Shared by the corpus scripts: write what the script parsed, and its argv, into its run directory."""

import json
import os
import sys


def echo(parsed):
    target = os.environ.get("TUNER_RUN_DIR") or "."
    with open(os.path.join(target, "parsed.json"), "w", encoding="utf-8") as handle:
        json.dump({"parsed": parsed, "argv": sys.argv[1:]}, handle)
    print("loss: 0.5")

"""Reads its configuration from a JSON file given as --config PATH (`${args_json_file}`)."""
import argparse
import json

from _echo import echo

parser = argparse.ArgumentParser()
parser.add_argument("--config", required=True)
args = parser.parse_args()
with open(args.config, encoding="utf-8") as handle:
    echo(json.load(handle))

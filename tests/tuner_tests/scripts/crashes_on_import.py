"""Fails at import time, before it parses its options (no GPU on this machine)."""
import argparse


def check_gpu():
    raise RuntimeError("no GPU found")


check_gpu()
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float)
parser.parse_args()

"""Yes/no questions on the terminal: asked only when someone is there to answer."""

from __future__ import annotations

import sys
from typing import Callable


def ask(question: str, default: bool, confirm: bool | None, input_fn: Callable[[str], str] = input) -> bool:
    """True to go ahead. confirm=None asks only when stdin is a terminal; False never asks; True always asks."""
    should_ask = can_ask() if confirm is None else bool(confirm)
    if not should_ask:
        return True
    try:
        answer = input_fn(question + (" [Y/n]: " if default else " [y/N]: ")).strip().lower()
    except EOFError:
        return False
    if not answer:
        return default
    return answer in ("y", "yes")


def can_ask() -> bool:
    """Whether someone can answer a question: stdin is a terminal."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False

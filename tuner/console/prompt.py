"""Yes/no questions on the terminal, for the channel's renderer (tuner.console.echo): library code asks through
tuner.channel.confirmed, never here."""

from __future__ import annotations

import sys
from typing import Callable

from tuner.console.inert import inert


def ask(question: str, default: bool, input_fn: Callable[[str], str] | None = None) -> bool:
    """The person's answer: empty is `default`, y/yes is yes, anything else no; an end of input is no. input() is
    looked up when asked (a caller that replaced it, or sys.stdin, is heard)."""
    try:
        answer = (input_fn or input)(inert(question, keep_newlines=True) + (" [Y/n]: " if default else " [y/N]: "))
    except EOFError:
        return False
    answer = answer.strip().lower()
    if not answer:
        return default
    return answer in ("y", "yes")


def can_ask() -> bool:
    """Someone is there to answer: stdin is a terminal."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False

"""Text from run data made inert before it reaches a terminal: the one owner of that rule.

Run data is written by scripts, teammates and clusters (a flag value, a note, a tag, a run folder's name, a
line of a trial's stderr). A terminal acts on what it is sent: `ESC ] 0 ; title BEL` retitles the window,
`ESC [ 2 J` clears it, other sequences move the cursor, rewrite what is shown, or (on some terminals) answer
back into the input. So every value shown goes through `inert`, which spells each control character out
(`\\x1b`, `\\n`, `\\u202e`) instead of sending it, and, where rich parses the text as markup, through
`markup`, which also escapes rich's `[style]` tags (a tag key `[/x]` made `tune info` crash).

Escaped: C0 controls and DEL, the C1 controls (U+0080-U+009F: 0x9B is CSI on terminals that take 8-bit
controls), the line and paragraph separators and the bidirectional overrides and isolates (text that reads
differently from what it is). Other characters, accents, CJK and emoji included, are shown as they are.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _spell(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(text: object, keep_newlines: bool = False) -> str:
    """`text` (str() of any value) with every control character spelled out; `keep_newlines` keeps line breaks
    of a message that has several lines (each line is still inert)."""
    text = text if isinstance(text, str) else str(text)
    if text.isprintable():  # in C, and true for nearly every value: nothing to look for
        return text
    return (_CONTROL_BUT_NEWLINE if keep_newlines else _CONTROL).sub(_spell, text)


def markup(text: object, keep_newlines: bool = False) -> str:
    """inert(text), escaped for rich's markup, for a string handed to a rich console or table cell."""
    from rich.markup import escape

    return escape(inert(text, keep_newlines))

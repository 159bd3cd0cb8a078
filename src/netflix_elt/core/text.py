"""Text helpers shared by every stage."""

from __future__ import annotations

import re

_LINE_BREAKS = re.compile("[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def one_line(text: str) -> str:
    """`text` with its line breaks escaped (`\\n`): a file name may hold one, and must not forge a
    second line of a message or of the console log."""
    return _LINE_BREAKS.sub(lambda m: repr(m.group())[1:-1], text)

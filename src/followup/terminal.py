"""Text for a terminal: what came from a calendar or a mailbox is shown, never obeyed.

A meeting title holding `\\x1b]52;c;...\\x07` (copy to clipboard), `\\x1b[2J` (clear the
screen) or a bidi override would otherwise act on the user's terminal when `plan`, `status`
or an error message prints it. `printable` turns every control and format character into a
visible escape (`\\x1b`, `\\u202e`), so the text is still recognisable but inert.
"""

from __future__ import annotations

import io
import os
import unicodedata
from typing import TextIO

# Cc: C0/C1 controls (ESC, BEL, CR, NUL, CSI...); Cf: format characters (bidi overrides and
# isolates, zero-width joiners); Zl/Zp: line and paragraph separators.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def _escape(ch: str) -> str:
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def printable(text: object, *, keep_newlines: bool = False) -> str:
    """`text` with every control, format and unassigned character shown as an escape.

    `keep_newlines` keeps "\\n" as is, for multi-line text the program itself composed.
    """
    s = str(text)
    if s.isprintable():  # the common case: nothing to do
        return s
    out = []
    for ch in s:
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif ch == "\t":
            out.append(" ")
        elif unicodedata.category(ch) in _UNSAFE_CATEGORIES:
            out.append(_escape(ch))
        else:
            out.append(ch)
    return "".join(out)


def use_color(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream
        return False


class InertWriter(io.TextIOBase):
    """A text stream that passes everything written through `printable` (newlines kept):
    a whole rendered report (a table, a list of errors) made safe at one place."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(printable(text, keep_newlines=True))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return self.stream.isatty()

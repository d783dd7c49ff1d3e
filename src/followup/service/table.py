"""Plain aligned columns for terminal output (status, doctor)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from followup.terminal import printable


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    # Cells may hold names and errors from calendars and servers: shown, never obeyed.
    rows = [[printable(c) for c in r] for r in rows]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        line = "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True))
        print(line.rstrip(), file=out)

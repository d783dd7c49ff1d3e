"""Plain aligned columns for terminal output (status, doctor)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        line = "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True))
        print(line.rstrip(), file=out)

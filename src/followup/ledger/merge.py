"""Which source's copy of a meeting occurrence wins when several sources know it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple


class Copy(NamedTuple):
    """One source's stored copy of an occurrence; `data` is whatever the caller carries along."""

    uid: str
    occurrence: datetime
    source: str
    sequence: int
    data: Any


def source_rank(source: str) -> int:
    """A calendar is the user's own truth about a meeting; an invitation mail may be stale,
    forwarded or forged (anyone can mail a REQUEST with a higher SEQUENCE). Microsoft's
    invitation source is named "invitations"; every other source is a calendar."""
    if source.startswith("mail:") or source == "invitations":
        return 0
    return 1


def winners(copies: Iterable[Copy]) -> list[Copy]:
    """One copy per (uid, occurrence): a calendar's copy over a mail's whatever their
    SEQUENCE; between copies of one kind the higher SEQUENCE; then (so the choice is stable)
    the smaller source name."""
    best: dict[tuple[str, datetime], Copy] = {}
    for copy in sorted(copies, key=lambda c: c.source):  # ties keep the first seen
        key = (copy.uid, copy.occurrence)
        held = best.get(key)
        if held is None or _order(copy) > _order(held):
            best[key] = copy
    return list(best.values())


def _order(copy: Copy) -> tuple[int, int]:
    return (source_rank(copy.source), copy.sequence)

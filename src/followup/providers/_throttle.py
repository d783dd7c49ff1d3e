"""Looks that most cycles skip: a mailbox scan at most once per interval.

Shared by the providers whose idle cycle would otherwise pay for a mail listing every time
(Gmail invitations, the Outlook Inbox). The time of the last look lives in the source's own
cursor, so the interval holds across restarts and `run --once` processes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utc_now() -> datetime:
    """The clock of periodic looks, unless a caller (a test) passes its own."""
    return datetime.now(UTC)


def looked_recently(last: float, now: float, every: timedelta) -> bool:
    """Whether a look at epoch second `last` is recent enough at `now` to skip this one.

    `every` zero: never recent (a look every cycle). A clock that went back (now < last)
    does not count as recent: a wrong clock must not stop the looks for good.
    """
    return 0 <= now - last < every.total_seconds()

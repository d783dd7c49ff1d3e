"""Progress of a backfill (an account's first cycle over past meetings), from its first second.

Reading calendars and mail and planning come first and can take a while on a large mailbox:
`reading()` says so at once, and `tick()` (called from the cycle's stop check, which runs
throughout the reading) keeps the elapsed time current. Writing follows, with a count.

On a terminal: one line on stderr, redrawn in place. Otherwise (journald, a container's log):
a log line when reading starts and every READING_LOG_SECONDS while it lasts, then one at every
tenth of the writes, so a long first start is visibly alive but the log is not flooded.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

import structlog

log = structlog.get_logger(__name__)

BAR_WIDTH = 30
REDRAW_SECONDS = 0.1  # at most ten redraws a second on a slow terminal
READING_LOG_SECONDS = 30.0


class Progress:
    def __init__(self, account: str, *, stream: TextIO | None = None) -> None:
        self.account = account
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.total = 0
        self.done = 0
        self._logged_tenth = -1
        self._drawn_at = 0.0
        self._reading_since: float | None = None
        self._reading_logged_at = 0.0

    def reading(self) -> None:
        """The cycle starts: reading sources and planning, before any write is known."""
        now = time.monotonic()
        self._reading_since = self._reading_logged_at = now
        log.info("backfill.reading", account=self.account)
        if self.tty:
            self._draw_reading(now)

    def tick(self) -> None:
        """Still reading or planning (called often; redraws or logs only now and then)."""
        if self._reading_since is None or self.total:
            return
        now = time.monotonic()
        if self.tty:
            if now - self._drawn_at >= 1.0:
                self._draw_reading(now)
        elif now - self._reading_logged_at >= READING_LOG_SECONDS:
            self._reading_logged_at = now
            log.info("backfill.still_reading", account=self.account,
                     seconds=round(now - self._reading_since))

    def _draw_reading(self, now: float) -> None:
        assert self._reading_since is not None
        self._drawn_at = now
        seconds = int(now - self._reading_since)
        self.stream.write(f"\x1b[K{self.account}: first sync: reading calendars and mail, "
                          f"planning ({seconds} s)\r")
        self.stream.flush()

    def start(self, total: int) -> None:
        self.total = max(total, 1)
        log.info("backfill.started", account=self.account, writes=self.total)

    def advance(self) -> None:
        """One more write started; the bar counts writes begun, so the last one shows too."""
        if not self.total:
            return
        self.done = min(self.done + 1, self.total)
        if self.tty:
            now = time.monotonic()
            if now - self._drawn_at >= REDRAW_SECONDS or self.done == self.total:
                self._drawn_at = now
                self._draw()
            return
        tenth = self.done * 10 // self.total
        if tenth > self._logged_tenth:
            self._logged_tenth = tenth
            log.info("backfill.progress", account=self.account, done=self.done,
                     total=self.total, percent=self.done * 100 // self.total)

    def finish(self) -> None:
        if self.tty and self.total:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
        elif self.tty and self._reading_since is not None:  # nothing to write after all
            self.stream.write("\x1b[K")
            self.stream.flush()
        self._reading_since = None

    def _draw(self) -> None:
        filled = self.done * BAR_WIDTH // self.total
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        # Clear the line, draw, and put the cursor back at its start: a log line printed
        # meanwhile overwrites the bar instead of being glued to its end; the next redraw
        # puts it back below.
        self.stream.write(
            f"\x1b[K{self.account}: first sync [{bar}] {self.done}/{self.total} writes\r")
        self.stream.flush()

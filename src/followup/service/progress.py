"""Progress of a backfill (an account's first cycle over past meetings).

On a terminal: one bar on stderr, redrawn in place. Otherwise (journald, a container's log):
a log line at every tenth of the way, so a long first start is visibly alive but the log is
not flooded.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

import structlog

log = structlog.get_logger(__name__)

BAR_WIDTH = 30
REDRAW_SECONDS = 0.1  # at most ten redraws a second on a slow terminal


class Progress:
    def __init__(self, account: str, *, stream: TextIO | None = None) -> None:
        self.account = account
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.total = 0
        self.done = 0
        self._logged_tenth = -1
        self._drawn_at = 0.0

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

    def _draw(self) -> None:
        filled = self.done * BAR_WIDTH // self.total
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        # Clear the line, draw, and put the cursor back at its start: a log line printed
        # meanwhile overwrites the bar instead of being glued to its end; the next redraw
        # puts it back below.
        self.stream.write(
            f"\x1b[K{self.account}: first sync [{bar}] {self.done}/{self.total} writes\r")
        self.stream.flush()

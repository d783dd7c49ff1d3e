"""The one seam between push and company mode: a notice queues `sync_account`.

company.queue.schedule_sync defers the task with lock = queueing_lock = the account, so a
burst of notices for one account leaves one job waiting (the first one queues it, the
rest coalesce), and a notice for an account whose next job waits for a later due time
brings that job forward.
"""

from __future__ import annotations

from typing import Any

import structlog

log = structlog.get_logger(__name__)


class QueueWaker:
    """Queues syncs on the company queue at `url` (procrastinate's app, opened once)."""

    def __init__(self, url: str) -> None:
        from followup.company.queue import connector_for, make_app

        self.app: Any = make_app(connector_for(url, min_size=1, max_size=4))
        self._opened = False

    def open(self) -> QueueWaker:
        self.app.open()
        self._opened = True
        return self

    def close(self) -> None:
        if self._opened:
            self.app.close()
            self._opened = False

    def __call__(self, account: str, reason: str) -> bool:
        from followup.company.queue import schedule_sync

        queued = bool(schedule_sync(self.app, account, reason))
        log.info("push.wake", account=account, reason=reason, queued=queued)
        return queued

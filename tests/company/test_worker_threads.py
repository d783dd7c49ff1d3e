"""A worker runs as many syncs at once as its --concurrency says, whatever the CPU count.

procrastinate runs sync tasks in the event loop's default executor: min(32, CPUs + 4)
threads, 6 on a 2-core machine. A worker asked for 10 syncs at once ran 6, and a burst of
meeting ends queued behind them. Here every account's calendar is a URL served by a gate
that holds each request until 10 are waiting at once (or 20 s pass): the peak it saw is the
number of syncs the worker really ran together.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from followup.company.store import AccountStore

from .helpers import TENANT_SETTINGS, make_mailbox, now_utc, start_worker, stop, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SYNCS = 10  # above the default executor's 6 threads (2 cores) and 8 (4 cores)
EMPTY_CALENDAR = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//gate//EN\r\nEND:VCALENDAR\r\n"


class Gate:
    """Counts requests in flight; releases them all once `target` are in at once."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.in_flight = 0
        self.peak = 0
        self.served = 0
        self.cond = threading.Condition()

    def enter(self) -> None:
        with self.cond:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.cond.notify_all()
            self.cond.wait_for(lambda: self.peak >= self.target, timeout=20)

    def leave(self) -> None:
        with self.cond:
            self.in_flight -= 1
            self.served += 1


@pytest.fixture
def gate() -> Iterator[tuple[Gate, str]]:
    g = Gate(SYNCS)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            g.enter()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar")
                self.send_header("Content-Length", str(len(EMPTY_CALENDAR)))
                self.end_headers()
                self.wfile.write(EMPTY_CALENDAR)
            finally:
                g.leave()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield g, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_worker_runs_as_many_syncs_at_once_as_its_concurrency(
    tmp_path: Path, company_url: str, master_key: str, store: AccountStore,
    gate: tuple[Gate, str],
) -> None:
    g, base = gate
    store.add_tenant("acme", TENANT_SETTINGS)
    for i in range(SYNCS):
        box = make_mailbox(tmp_path, f"acct{i}", now_utc(), meetings=0)
        store.add_account("acme", {**box.config(), "calendars": [f"{base}/acct{i}.ics"]})
    worker = start_worker(company_url, master_key, log=tmp_path / "worker.log",
                          extra=["--concurrency", str(SYNCS)])
    try:
        wait_for(lambda: g.served >= SYNCS, 60, "every account's calendar to be fetched")
    finally:
        stop(worker)
    assert g.peak == SYNCS, f"{g.peak} syncs ran at once, not {SYNCS}"

"""Worker processes on the local PostgreSQL: exactly once through kills, races and a
database that drops every connection. Each test is a real `followup worker` process."""

from __future__ import annotations

import signal
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from followup.company.queue import conninfo
from followup.company.store import AccountStore
from followup.demo.workspace import Person
from followup.ledger.connect import make_engine

from .helpers import (
    TENANT_SETTINGS,
    assert_exactly_once,
    ledger_writes,
    make_mailbox,
    now_utc,
    start_worker,
    stop,
    wait_for,
)
from .pg_proxy import PgProxy

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _all_done(url: str, name: str, expected: int | None = None) -> bool:
    writes = ledger_writes(url, name)
    total = sum(sum(s.values()) for s in writes.values())
    done = sum(s.get("done", 0) for s in writes.values())
    return bool(writes) and done == total and (expected is None or done == expected)


def test_a_worker_killed_mid_write_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, company_url: str, master_key: str, store: AccountStore
) -> None:
    box = make_mailbox(tmp_path, "bob", now_utc())
    store.add_tenant("acme", TENANT_SETTINGS)
    store.add_account("acme", box.config())
    # The object is written, the ledger not yet told: the worst moment to die.
    doomed = start_worker(company_url, master_key, kill_at="after_write:2")
    try:
        assert doomed.wait(30) == -signal.SIGKILL
    finally:
        stop(doomed)
    assert box.objects()["contact"] + box.objects()["draft"] >= 2
    assert not _all_done(company_url, "bob")
    heir = start_worker(company_url, master_key, log=tmp_path / "heir.log")
    try:
        # Its job is stalled (no heartbeat), retried, and the lease runs out: then it runs.
        wait_for(lambda: _all_done(company_url, "bob"), 40, "the stalled sync to finish")
    finally:
        stop(heir)
    assert_exactly_once(company_url, box)


def test_two_workers_on_many_wakeups_never_write_twice(
    tmp_path: Path, company_url: str, master_key: str, store: AccountStore
) -> None:
    store.add_tenant("acme", TENANT_SETTINGS)
    boxes = [make_mailbox(tmp_path, f"acct{i}", now_utc(), meetings=3) for i in range(4)]
    for box in boxes:
        store.add_account("acme", box.config())
    workers = [start_worker(company_url, master_key, log=tmp_path / f"w{i}.log")
               for i in range(2)]
    try:
        from followup.company.queue import connector_for, make_app, schedule_sync

        app = make_app(connector_for(company_url))
        with app.open():
            for _ in range(5):  # wake-ups pile up while the syncs run
                for box in boxes:
                    schedule_sync(app, box.name, "test")
        for box in boxes:
            wait_for(lambda b=box: _all_done(company_url, b.name), 40, f"{box.name}'s sync")
    finally:
        for w in workers:
            stop(w)
    for box in boxes:
        assert_exactly_once(company_url, box)
        record = store.get(box.name)
        assert record is not None and record.last_sync is not None and record.failures == 0
        assert record.lease_owner is None, "the lease is given back after each sync"
    assert all(w.returncode == 0 for w in workers), "SIGTERM ends them cleanly"


def test_a_database_that_drops_every_connection_is_survived(
    tmp_path: Path, company_url: str, master_key: str, store: AccountStore
) -> None:
    box = make_mailbox(tmp_path, "cy", now_utc(), meetings=1)
    store.add_tenant("acme", TENANT_SETTINGS)
    store.add_account("acme", box.config())
    worker = start_worker(company_url, master_key, log=tmp_path / "worker.log")
    try:
        wait_for(lambda: _all_done(company_url, "cy"), 30, "the first sync")
        before = sum(box.objects().values())
        # What a PostgreSQL restart does to clients: every session of this test ends.
        app_name = make_engine(company_url).url.query["application_name"]
        with psycopg.connect(conninfo(company_url), autocommit=True) as admin:
            ended = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s AND pid <> pg_backend_pid()", (app_name,)
            ).fetchone()
        assert ended and ended[0] >= 1
        # A meeting that ended half an hour ago, only now in the calendar: due at once.
        box.add_meeting("after", now_utc() - timedelta(minutes=30),
                        [Person("Late Comer", "late@newco.example")])
        store.set_enabled("cy", True)  # next check: now
        wait_for(lambda: _all_done(company_url, "cy") and sum(box.objects().values())
                 > before, 40, "a sync after the connections dropped")
        assert worker.poll() is None, "the worker survived"
    finally:
        stop(worker)
    assert_exactly_once(company_url, box)


def test_a_postgresql_restart_is_survived_by_the_worker_process(
    tmp_path: Path, company_url: str, master_key: str, store: AccountStore
) -> None:
    """A restart refuses connections for a while: procrastinate's listener cannot reconnect
    and ends its job loop. The process waits and starts the loop again instead of exiting
    (a real restart here, measured: every worker exited with 1)."""
    box = make_mailbox(tmp_path, "dee", now_utc(), meetings=1)
    store.add_tenant("acme", TENANT_SETTINGS)
    store.add_account("acme", box.config())
    proxy, through = PgProxy.for_url(company_url)
    log = tmp_path / "worker.log"
    worker = start_worker(through, master_key, log=log)
    try:
        wait_for(lambda: _all_done(company_url, "dee"), 30, "the first sync")
        before = sum(box.objects().values())
        # Down until the job loop gives up (its queries wait 10 s for a connection).
        assert proxy.outage(lambda: "worker.database_lost" in log.read_text(), 45), \
            "the worker noticed the database went away"
        assert worker.poll() is None, "the worker process waits instead of exiting"
        box.add_meeting("after", now_utc() - timedelta(minutes=30),
                        [Person("Late Comer", "late@newco.example")])
        store.set_enabled("dee", True)  # next check: now
        wait_for(lambda: _all_done(company_url, "dee") and sum(box.objects().values())
                 > before, 60, "a sync after the restart")
        assert worker.poll() is None
    finally:
        stop(worker)
        proxy.close()
    assert worker.returncode == 0, "SIGTERM still ends it cleanly"
    assert_exactly_once(company_url, box)

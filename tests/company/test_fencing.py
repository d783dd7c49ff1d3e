"""Fencing and limits, in process on PostgreSQL: a worker that lost its account's lease
writes nothing more; two workers racing on one account write each object once; 429s and
revoked grants back off and are recorded; the token bucket; the sweep."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from followup.company.bucket import Buckets, Rate
from followup.company.lease import Lease
from followup.company.queue import connector_for, make_app
from followup.company.store import AccountStore
from followup.company.worker import Worker
from followup.config import AccountConfig, Config
from followup.demo.workspace import Person
from followup.errors import AuthError, TransientError
from followup.ledger.store import process_identity
from followup.protocols import Account
from followup.providers import open_account

from .helpers import TENANT_SETTINGS, assert_exactly_once, ledger_writes, make_mailbox, now_utc

pytestmark = pytest.mark.postgres


def _worker(store: AccountStore, url: str, *, identity: str | None = None,
            opener: Callable[[AccountConfig, Config], Account] = open_account) -> Worker:
    return Worker(url=url, engine=store.engine, store=store, buckets=Buckets(store.engine),
                  lease_ttl=timedelta(seconds=30), opener=opener,
                  identity=identity or process_identity())


def _other_process() -> str:
    """The identity of another live process on this host (our parent)."""
    host, boot, ns, _pid, _ = process_identity().split("|")
    return f"{host}|{boot}|{ns}|{os.getppid()}|elsewhere"


@pytest.fixture
def tenant(store: AccountStore) -> str:
    store.add_tenant("acme", TENANT_SETTINGS)
    return "acme"


def test_a_worker_that_lost_its_lease_stops_before_writing(
    tmp_path: Path, company_url: str, store: AccountStore, tenant: str
) -> None:
    box = make_mailbox(tmp_path, "ann", now_utc())
    store.add_account(tenant, box.config())

    def stalls_then_loses_the_lease(cfg: AccountConfig, config: Config) -> Account:
        account = open_account(cfg, config)

        class Stalled:  # while it reads, another worker takes the account over
            name = account.sources[0].name

            def changes(self, cursor: str | None, window: Any) -> Any:
                with store.engine.begin() as conn:
                    conn.execute(text(
                        "UPDATE company_accounts SET lease_epoch = lease_epoch + 1, "
                        "lease_owner = 'someone else', lease_until = now()"))
                return account.sources[0].changes(cursor, window)

        return dataclasses.replace(account, sources=[Stalled()])

    lost = _worker(store, company_url, opener=stalls_then_loses_the_lease)
    assert lost.sync("ann", "test") == "lost"
    assert box.objects() == {"contact": 0, "draft": 0, "block": 0}
    writes = ledger_writes(company_url, "ann")
    assert all(set(states) == {"pending"} for states in writes.values())
    with store.engine.begin() as conn:
        claimed = conn.execute(text(
            "SELECT attempts, claim_owner FROM writes WHERE attempts > 0")).all()
    assert [(a, o) for a, o in claimed] == [(1, None)], "the claim is given back"
    assert _worker(store, company_url).sync("ann", "test") == "done"
    assert_exactly_once(company_url, box)


def test_two_workers_racing_on_one_account_write_each_object_once(
    tmp_path: Path, company_url: str, store: AccountStore, tenant: str
) -> None:
    box = make_mailbox(tmp_path, "bob", now_utc(), meetings=4)
    store.add_account(tenant, box.config())
    workers = [_worker(store, company_url), _worker(store, company_url,
                                                    identity=_other_process())]
    start = threading.Barrier(2)
    results: list[str] = []

    def run(w: Worker) -> None:
        start.wait()
        results.append(w.sync("bob", "race"))

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert "done" in results and set(results) <= {"done", "leased", "lost"}, results
    for w in workers:  # whatever the race left, later syncs finish it, never twice
        w.sync("bob", "again")
    assert_exactly_once(company_url, box)


def test_a_429_throttles_the_account_for_its_retry_after(
    company_url: str, store: AccountStore, tenant: str
) -> None:
    store.add_account(tenant, {"kind": "local", "name": "cy"})
    calls: list[str] = []

    def throttled(cfg: AccountConfig, config: Config) -> Account:
        calls.append(cfg.name)
        raise TransientError("429 Too Many Requests", retry_after=300)

    worker = _worker(store, company_url, opener=throttled)
    before = now_utc()
    assert worker.sync("cy", "test") == "retry"
    record = store.get("cy")
    assert record is not None and record.throttled_until is not None
    assert record.throttled_until >= before + timedelta(seconds=300)
    assert record.next_check_at == record.throttled_until and record.failures == 1
    assert worker.sync("cy", "test") == "throttled" and calls == ["cy"]


def test_a_revoked_grant_marks_the_account_needs_reconnect(
    company_url: str, store: AccountStore, tenant: str
) -> None:
    store.add_account(tenant, {"kind": "local", "name": "dee"})

    def revoked(cfg: AccountConfig, config: Config) -> Account:
        raise AuthError("invalid_grant: token revoked")

    assert _worker(store, company_url, opener=revoked).sync("dee", "test") == "needs_reconnect"
    record = store.get("dee")
    assert record is not None and record.needs_reconnect
    assert record.next_check_at is not None and record.next_check_at > now_utc() + timedelta(
        hours=5)
    assert record.lease_owner is None


def test_the_token_bucket_caps_a_tenants_requests(store: AccountStore) -> None:
    buckets = Buckets(store.engine, {"google": Rate(per_second=2.0, burst=3.0)})
    assert [buckets.take("google", "acme") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = buckets.take("google", "acme")
    assert 0.0 < wait <= 0.5
    assert buckets.take("google", "other-tenant") == 0.0  # each tenant has its own
    buckets.charge("google", "other-tenant", 10)
    assert buckets.take("google", "other-tenant") >= 4.0


def test_lease_epochs_grow_and_an_old_holder_cannot_renew(store: AccountStore,
                                                          tenant: str) -> None:
    store.add_account(tenant, {"kind": "local", "name": "eve"})
    first = Lease(store.engine, "eve", "one", timedelta(seconds=30))
    second = Lease(store.engine, "eve", "two", timedelta(seconds=30))
    assert first.acquire() == 1
    assert second.acquire() is None and first.hold()
    with store.engine.begin() as conn:  # its time runs out
        conn.execute(text("UPDATE company_accounts SET lease_until = now()"))
    assert second.acquire() == 2
    assert not first.hold() and first.lost()
    first.release()  # not its own any more: nothing happens
    assert second.hold()


@pytest.fixture
def app(company_url: str) -> Iterator[Any]:
    app = make_app(connector_for(company_url))
    with app.open():
        yield app


def test_the_sweep_queues_due_accounts_and_recreates_lost_jobs(
    company_url: str, store: AccountStore, tenant: str, app: Any
) -> None:
    for name in ("due", "later", "off", "lost"):
        store.add_account(tenant, {"kind": "local", "name": name})
    store.set_enabled("off", False)
    now = now_utc()
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE company_accounts SET next_check_at = :t WHERE name IN "
                          "('later', 'lost')"), {"t": now + timedelta(minutes=15)})
        conn.execute(text("UPDATE company_accounts SET next_due_at = :t WHERE name = 'lost'"),
                     {"t": now + timedelta(minutes=5)})
    worker = _worker(store, company_url)
    worker.app = app
    assert worker.sweep() == 2
    waiting = {j.queueing_lock: j.scheduled_at for j in app.job_manager.list_jobs(
        status="todo")}
    assert set(waiting) == {"due", "lost"}
    assert waiting["due"] is None
    assert waiting["lost"] == now + timedelta(minutes=5)
    assert worker.sweep() == 0, "jobs wait for both: nothing more to queue"


def test_a_meeting_ending_in_seconds_is_synced_at_its_end_not_after_a_gap(
    tmp_path: Path, company_url: str, store: AccountStore, app: Any
) -> None:
    """A sync (woken by a push notice, say) seconds before a meeting ends queues the next
    one at the end: the draft is not held back by the gap meant for overdue work."""
    store.add_tenant("acme", {**TENANT_SETTINGS, "schedule": {"grace_minutes": 0}})
    box = make_mailbox(tmp_path, "eve", now_utc(), meetings=0)
    end = now_utc() + timedelta(seconds=10)
    box.add_meeting("soon", end, [Person("Jo Smith", "jo@newco.example")])
    store.add_account("acme", box.config())
    worker = _worker(store, company_url)
    worker.app = app
    assert worker.sync("eve", "push") == "done"
    jobs = list(app.job_manager.list_jobs(queueing_lock="eve", status="todo"))
    assert len(jobs) == 1 and jobs[0].scheduled_at is not None
    assert abs((jobs[0].scheduled_at - end).total_seconds()) < 1, (jobs[0].scheduled_at, end)

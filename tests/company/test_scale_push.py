"""Push through the scale fakes (benchmarks/scalefakes/, as `company_scale.py --push` runs
them): a real `followup ingest` process creates the channels (a Calendar channel per Google
account, Graph subscriptions with the validation handshake for a Microsoft tenant with an
organisation-wide app grant, or with each account's own sign-in), a real `followup worker`
process syncs.

What it checks: a meeting added at the fake makes the fake send a notice (Calendar ping,
Graph change notification) that ingest accepts, and the sync it wakes writes the draft, with
no "look now" from the test once the change is made (no next_check_at moved, no job queued);
an account with no change gets no notice and no draft.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from followup.company.queue import connector_for, make_app, schedule_sync
from followup.company.store import AccountStore
from followup.push import schema as push_schema
from followup.push.orgstore import OrgGrant, OrgStore

from .helpers import stop
from .test_scale_fakes import SETTINGS, Fake, _meeting
from .test_scale_fakes import fake as fake

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

GOOGLE, MICROSOFT = ["g0", "g1"], ["m0", "m1"]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(what: str, predicate: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _scalar(store: AccountStore, sql: str, **args: Any) -> Any:
    with store.engine.begin() as conn:
        return conn.execute(text(sql), args).scalar()


@pytest.fixture
def processes(company_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """`followup ingest` (its webhook on a local port that is also its public URL) and
    `followup worker`, real processes on the test's schema; their logs in tmp_path."""
    port = _free_port()
    # requests lets these replace a session's CA: the fake's CA, named by each
    # credential, must win over a wrong one here.
    env = {**os.environ, "REQUESTS_CA_BUNDLE": str(tmp_path / "no-such-ca.pem")}
    logs = {n: (tmp_path / f"{n}.log").open("wb") for n in ("ingest", "worker")}
    procs = [
        subprocess.Popen([sys.executable, "-m", "followup", "ingest", "--database", company_url,
                          "--listen", f"127.0.0.1:{port}", "--public-url",
                          f"http://127.0.0.1:{port}"], stdout=logs["ingest"],
                         stderr=subprocess.STDOUT, env=env),
        subprocess.Popen([sys.executable, "-m", "followup", "worker", "--database", company_url,
                          "--concurrency", "4", "--poll-seconds", "0.2"],
                         stdout=logs["worker"], stderr=subprocess.STDOUT, env=env)]
    try:
        yield {"procs": procs, "logs": tmp_path}
    finally:
        for p in procs:
            p.terminate()  # all at once; stop() then waits for each
        for p in procs:
            stop(p)
        for f in logs.values():
            f.close()


def _accounts(fake: Fake, store: AccountStore, graph: str) -> None:
    """g0, g1 on tenant g (Google); m0, m1 on tenant m (Microsoft, delegated accounts).
    `graph`: "app", the tenant has an app grant that Graph subscriptions are made with;
    "delegated", none: each account subscribes with its own sign-in."""
    for kind, names, tenant in (("google", GOOGLE, "g"), ("microsoft", MICROSOFT, "m")):
        store.add_tenant(tenant, SETTINGS)
        made = fake.call("/users", {"kind": kind, "users": [
            [u, f"{u}@bench.example"] for u in names]})["accounts"]
        for u in names:
            store.add_account(tenant, made[u]["config"], user={
                "name": f"User {u}", "addresses": [f"{u}@bench.example"]},
                credential={k: base64.b64decode(v) for k, v in made[u]["credential"].items()})
    push_schema.ensure_schema(store.engine)
    if graph == "delegated":
        return
    credential = fake.call("/apps", {"tenant": "m"})["credential"]
    OrgStore(store.engine).save(OrgGrant("m", "microsoft", {"account": {}}, credential))


@pytest.mark.parametrize("graph", ["app", "delegated"])
def test_a_notice_from_the_scale_fakes_wakes_the_sync_that_writes_the_draft(
        fake: Fake, store: AccountStore, company_url: str, processes: dict[str, Any],
        graph: str) -> None:
    _accounts(fake, store, graph)
    # Ingest's first renewal round: a Calendar channel per Google account, two Graph
    # subscriptions (events, messages) per Microsoft one, each after its handshake.
    _wait("the channels", lambda: _scalar(store, "SELECT count(*) FROM push_channels") == 6,
          60)
    app = make_app(connector_for(company_url))
    with app.open():  # the first syncs, as `admin account add` queues them
        for name in GOOGLE + MICROSOFT:
            schedule_sync(app, name, "test")
    _wait("the first syncs", lambda: not _scalar(
        store, "SELECT count(*) FROM company_accounts WHERE last_sync IS NULL"), 60)
    # The worker's first sweep may queue a safety poll of accounts it saw unsynced: let
    # the queue empty before the change, so any sync after it is the notice's doing.
    _wait("an idle queue", lambda: not _scalar(
        store, "SELECT count(*) FROM procrastinate_jobs WHERE task_name = "
        "'followup.sync_account' AND status IN ('todo', 'doing')"), 30)
    assert not _scalar(store, "SELECT count(*) FROM writes")

    # A meeting that ended a minute ago, with a guest, on g0 and m0: only the fakes know.
    ended = datetime.now(UTC) - timedelta(minutes=1)
    added = time.time()
    fake.call("/meetings", {"meetings": [_meeting(u, f"pushed-{u}", ended, 1)
                                         for u in ("g0", "m0")]})

    def drafts() -> dict[str, float]:
        with store.engine.begin() as conn:
            rows = conn.execute(text(
                "SELECT account, EXTRACT(EPOCH FROM done_at) FROM writes WHERE kind = 'draft' "
                "AND state = 'done'")).all()
        return {a: float(t) for a, t in rows} if len(rows) >= 2 else {}

    done = _wait("the drafts", drafts, 60)
    assert set(done) == {"g0", "m0"}

    notices = fake.call("/notices")["notices"]
    meeting = {(n["user"], n["kind"]): n for n in notices if n["cause"] == "meeting"}
    assert set(meeting) == {("g0", "calendar"), ("m0", "graph_events")}, notices
    for (user, _), n in meeting.items():
        assert n["status"] in (200, 202), n  # ingest answered
        assert added <= n["sent"] < done[user]  # sent after the change, before the draft
    with store.engine.begin() as conn:
        noticed = dict(conn.execute(text(
            "SELECT account, sum(notices) FROM push_channels GROUP BY account")).all())
        forged = conn.execute(text("SELECT sum(forged) FROM push_channels")).scalar()
        last = dict(conn.execute(text("SELECT name, last_sync FROM company_accounts")).all())
    assert noticed["g0"] >= 1 and noticed["m0"] >= 1 and not forged
    # g1 and m1: nothing changed, nothing sent, not synced again.
    assert not [n for n in notices if n["user"] in ("g1", "m1") and n["cause"] != "sync"]
    assert last["g1"].timestamp() < added and last["m1"].timestamp() < added
    counts = fake.call("/counts")
    assert counts["google"]["routes"]["calendar.events.watch"] == 2
    assert counts["microsoft"]["routes"]["subscriptions.create"] == 4
    assert counts["microsoft"]["notices"]["validations"] == {"ok": 8}

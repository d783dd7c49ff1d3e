"""The many-user Google fake of benchmarks/company_scale.py (benchmarks/scalefakes/): two
Google accounts synced by the real company worker and engine through it, served by serve.py
in a process of its own and driven over its control API, as the benchmark drives it.

What it checks: the fake tells users apart by their access token and keeps each one's state
apart; the provider's calls are all routes the fake knows; what the ledger shows done is what
the fake holds, once (drafts, contacts, blocks); a revoked grant is invalid_grant; a storm is
429 with Retry-After.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from followup.company.store import AccountStore
from followup.company.worker import open_worker

SERVE = Path(__file__).resolve().parents[2] / "benchmarks" / "scalefakes" / "serve.py"
SETTINGS = {"user": {"name": "Bench User", "addresses": ["nobody@bench.example"],
                     "domains": ["bench.example"], "timezone": "UTC"},
            "schedule": {"grace_minutes": 0, "working_days": ["mon", "tue", "wed", "thu", "fri",
                                                                "sat", "sun"],
                         "day_start": "00:00", "day_end": "23:59"}}


class Fake:
    def __init__(self, proc: subprocess.Popen[str], info: dict[str, Any]) -> None:
        self.proc, self.info = proc, info

    def call(self, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.info["control"] + path, data=data,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[Fake]:
    proc = subprocess.Popen([sys.executable, str(SERVE), "--latency", "0.01", "--dir",
                             str(tmp_path / "fake")], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, "serve.py exited before it listened"
        yield Fake(proc, json.loads(line))
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def _meeting(user: str, uid: str, end: datetime, guests: int) -> dict[str, Any]:
    me = (f"User {user}", f"{user}@bench.example")
    return {"user": user, "uid": uid, "start": (end - timedelta(minutes=30)).isoformat(),
            "end": end.isoformat(), "organizer": list(me),
            "attendees": [[f"Colleague {uid}", f"colleague-{uid}@bench.example"]] + [
                [f"Guest{j} Person{uid}", f"guest{j}-{uid}@firm{j}.example"]
                for j in range(guests)],
            "summary": f"Meeting {uid}", "description": f"Notes {uid}."}


def test_two_google_users_synced_through_the_scale_fake(
        fake: Fake, store: AccountStore, company_url: str) -> None:
    now = datetime.now(UTC)
    users = ["ann", "bob"]
    accounts = fake.call("/users", {"kind": "google", "users": [
        [u, f"{u}@bench.example"] for u in users]})["accounts"]
    store.add_tenant("acme", SETTINGS)
    for u in users:
        a = accounts[u]
        store.add_account("acme", a["config"], user={"name": f"User {u}", "addresses": [
            f"{u}@bench.example"]}, credential={k: base64.b64decode(v) for k, v in a[
                "credential"].items()})
    # ann: a meeting that just ended with two guests; bob: one with one guest, and a later one.
    fake.call("/meetings", {"meetings": [
        _meeting("ann", "m1-ann", now - timedelta(minutes=5), 2),
        _meeting("bob", "m1-bob", now - timedelta(minutes=10), 1),
        _meeting("bob", "m2-bob", now + timedelta(days=2), 1)]})
    worker = open_worker(company_url, store=store)
    try:
        assert [worker.sync(u, "test") for u in users] == ["done", "done"]
        first = fake.call("/counts?per_user=1")
        assert worker.sync("ann", "again") == "done"  # an idle sync: nothing new
        idle = fake.call("/counts?per_user=1")
        with worker.engine.begin() as conn:
            rows = conn.execute(text("SELECT account, kind, count(*) FROM writes "
                                     "WHERE state = 'done' GROUP BY account, kind")).all()
            not_done = conn.execute(text("SELECT count(*) FROM writes "
                                         "WHERE state <> 'done' AND due <= now()")).scalar()
        # A revoked grant: the sync asks for reconnection; a storm: it retries later.
        fake.call("/revoke", {"users": ["bob"]})
        # (Longer than the provider sleeps through inside a cycle: it gives up at once.)
        fake.call("/storm", {"users": ["ann"], "seconds": 120})
        assert worker.sync("bob", "revoked") == "needs_reconnect"
        assert worker.sync("ann", "storm") == "done"  # the source's error is the cycle's
    finally:
        worker.engine.dispose()
    g = first["google"]
    assert g["unknown"] == {}, g["unknown"]
    assert set(g["users"]) == {"ann", "bob"}
    assert g["routes"]["calendar.events.list"] >= 2
    assert g["routes"]["gmail.users.drafts.create"] == 3  # one per guest's company
    assert not_done == 0
    done = {(a, k): n for a, k, n in rows}
    written = fake.call("/written", {"users": users})
    for u in users:
        for kind in ("draft", "contact", "block"):
            assert len(written[u][kind]) == done.get((u, kind), 0), (u, kind, written[u], done)
    assert done[("ann", "draft")] == 2 and done[("ann", "contact")] == 2
    assert done[("bob", "draft")] == 1 and done[("bob", "contact")] == 1
    idle_requests = idle["google"]["users"]["ann"] - first["google"]["users"]["ann"]
    assert 1 <= idle_requests <= 4, idle["google"]["routes"]
    after = fake.call("/counts")
    assert after["google"]["status"].get("429", 0) >= 1
    assert after["cpu_s"] > 0

"""The many-user Graph fake (benchmarks/scalefakes/graph.py) against the real engine: two
Microsoft accounts in company mode, sealed msal caches, one worker syncing them in process.

A meeting with an external person becomes one contact, one draft and one block per account;
an idle sync afterwards costs one request; `written()` lists each object once, by key.
"""

from __future__ import annotations

import gc
import socket
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from followup.company.bucket import Buckets
from followup.company.store import AccountStore
from followup.company.worker import Worker

from .helpers import TENANT_SETTINGS

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # benchmarks/ is not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks.scalefakes.control import Meeting  # noqa: E402
from benchmarks.scalefakes.graph import GraphScale, make_fake, tls_files  # noqa: E402

pytestmark = pytest.mark.postgres

NOW = datetime(2026, 11, 23, 11, 30, tzinfo=UTC)  # a Monday: drafts need not wait
USERS = {"ann": "ann@contoso.example", "bob": "bob@contoso.example"}


class Served:
    """uvicorn serving the fake over TLS in a thread, on a port picked before users exist."""

    def __init__(self, tmp: Path) -> None:
        files = tls_files(tmp / "tls")
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        port = self.sock.getsockname()[1]
        self.fake: GraphScale = make_fake(f"https://127.0.0.1:{port}", latency=0.01,
                                          ca_bundle=str(files.ca))
        config = uvicorn.Config(self.fake.app, log_level="warning", lifespan="off",
                                ssl_certfile=str(files.cert), ssl_keyfile=str(files.key))
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run,
                                       kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)

    def close(self) -> None:
        # The syncs' requests sessions are garbage now; collecting them closes their
        # keep-alive connections, which uvicorn would otherwise wait for on shutdown.
        gc.collect()
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    # The provider must trust the account's ca_bundle, not the environment's.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "no-such-ca.pem"))
    s = Served(tmp_path)
    yield s
    s.close()


def _requests(fake: GraphScale, user: str) -> int:
    users: dict[str, Any] = fake.counts()["users"]
    return int(users.get(user, 0))


def test_two_microsoft_users_synced_through_the_scale_fake(
    served: Served, company_url: str, store: AccountStore
) -> None:
    fake = served.fake
    store.add_tenant("acme", TENANT_SETTINGS)
    for user, email in USERS.items():
        config, credential = fake.add_user(user, email)
        store.add_account("acme", config, user={"name": user.title(), "addresses": [email]},
                          credential=credential)
        fake.add_meeting(user, Meeting(
            uid=f"{user}-m1@contoso.example", start=NOW - timedelta(hours=2),
            end=NOW - timedelta(hours=1), organizer=(user.title(), email),
            attendees=[("Jane Doe", f"jane.{user}@acme.example")],
            summary="Pilot review", description="We talked about the pilot."))
    worker = Worker(url=company_url, engine=store.engine, store=store,
                    buckets=Buckets(store.engine), lease_ttl=timedelta(seconds=30),
                    clock=lambda: NOW)
    for user in USERS:
        for _ in range(4):  # the meeting's writes, then cycles with nothing left to do
            assert worker.sync(user, "test") == "done"
        before = _requests(fake, user)
        assert worker.sync(user, "idle") == "done"
        assert _requests(fake, user) - before == 1, fake.user_routes(user)
    counts = fake.counts()
    assert not counts["unknown"], counts["unknown"]
    for user in USERS:
        written = fake.written(user)
        assert {k: len(v) for k, v in written.items()} == {"draft": 1, "contact": 1,
                                                           "block": 1}, written
        assert all(len(set(v)) == len(v) for v in written.values())
        assert "authority.token" not in fake.user_routes(user)  # the sealed token is used
    # One OpenID configuration per account: msal's http cache is sealed with the tokens.
    assert counts["routes"]["authority.openid"] == len(USERS), counts["routes"]

    # A later meeting in steady state: its writes in one sync, on top of the idle delta.
    fake.add_meeting("ann", Meeting(
        uid="ann-m2@contoso.example", start=NOW - timedelta(minutes=50),
        end=NOW - timedelta(minutes=20), organizer=("Ann", USERS["ann"]),
        attendees=[("Raj Patel", "raj@globex.example")], summary="Pricing"))
    before = _requests(fake, "ann")
    assert worker.sync("ann", "due") == "done"
    assert 3 < _requests(fake, "ann") - before <= 12, fake.user_routes("ann")  # 10 today
    assert {k: len(v) for k, v in fake.written("ann").items()} == {"draft": 2, "contact": 2,
                                                                   "block": 2}
    # A 429 storm longer than the provider waits in a call (Retry-After over 120 s): the
    # cycle gives up on its source at once (the engine records it as the cycle's error).
    fake.storm({"ann"}, time.monotonic() + 600)
    before = _requests(fake, "ann")
    assert worker.sync("ann", "storm") in ("done", "retry")
    assert _requests(fake, "ann") - before == 1
    assert fake.counts()["status"]["429"] == 1
    # A revoked grant: the access token stops working and the refresh is refused.
    fake.revoke({"bob"})
    assert worker.sync("bob", "revoked") == "needs_reconnect"
    assert fake.counts()["status"].get("400") == 1  # invalid_grant, once

"""The interface both scale fakes implement (Google: google.py, Microsoft Graph: graph.py).

A scale fake is an ASGI app (Starlette) that serves MANY users at once, each with state of
its own, on one asyncio loop: every request waits `latency` seconds (asyncio.sleep, so a
thousand waiting requests cost no CPU) and is counted per user and per route. serve.py runs
both fakes in one process and drives them through their `ScaleFake` methods from a JSON
control API; benchmarks/company_scale.py talks to that API from another process.

A module that provides a fake exposes a factory:

    def make_fake(base_url: str, *, latency: float = 0.1) -> ScaleFake

`base_url` is where serve.py will serve the fake's `app` (http://127.0.0.1:PORT for Google,
https://127.0.0.1:PORT for Graph), known before the first user is added because the
account config dicts carry it. A fake that needs TLS also exposes

    def tls(directory: Path) -> tuple[ssl.SSLContext, Path]

the server-side context and the CA bundle file (accounts put it in `ca_bundle`).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Meeting:
    """One calendar event the fake puts into a user's calendar (organised by the user
    unless `organizer` says otherwise)."""

    uid: str  # the iCalUID; the benchmark matches ledger rows by it (meeting_uid)
    start: datetime
    end: datetime
    organizer: tuple[str, str]  # (name, email)
    attendees: list[tuple[str, str]]  # (name, email), organizer not repeated
    summary: str = "Meeting"
    description: str = ""

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Meeting:
        return cls(uid=d["uid"], start=datetime.fromisoformat(d["start"]),
                   end=datetime.fromisoformat(d["end"]), organizer=tuple(d["organizer"]),
                   attendees=[tuple(a) for a in d["attendees"]],  # type: ignore[misc]
                   summary=d.get("summary", "Meeting"), description=d.get("description", ""))

    def to_json(self) -> dict[str, Any]:
        return {"uid": self.uid, "start": self.start.isoformat(), "end": self.end.isoformat(),
                "organizer": list(self.organizer), "attendees": [list(a) for a in self.attendees],
                "summary": self.summary, "description": self.description}


class ScaleFake(Protocol):
    kind: str  # "google" | "microsoft": the account config's kind
    app: Any  # the ASGI app to serve at base_url

    def add_user(self, user: str, email: str) -> tuple[dict[str, Any], dict[str, bytes]]:
        """The account's config dict (kind, name=user, the fake's URLs ...) and its credential
        files, as company.store.AccountStore.add_account(tenant, config, credential=...)
        takes them. `user` is the account name; `email` its mailbox address."""
        ...

    def add_meeting(self, user: str, meeting: Meeting) -> None:
        """Put the meeting into the user's calendar (a change the next delta/sync sees)."""
        ...

    def storm(self, users: set[str], until: float) -> None:
        """Those users' API calls get 429 with Retry-After until time.monotonic() >= until
        (the token endpoint too is fine, but not required)."""
        ...

    def revoke(self, users: set[str]) -> None:
        """Their grants are revoked: the token endpoint answers 400 invalid_grant, and their
        access tokens stop working (401)."""
        ...

    def counts(self) -> dict[str, Any]:
        """{"requests": total, "routes": {route: n}, "users": {user: n}, "status": {code: n}}
        (RequestCounts.snapshot() gives this shape)."""
        ...

    def written(self, user: str) -> dict[str, list[str]]:
        """What followup created for the user, one entry per object that exists now:
        {"draft": [...], "contact": [...], "block": [...]} (ids, or keys such as a draft's
        Message-ID). A write the ledger shows done once must appear here once: more is a
        duplicate, fewer is lost. Kinds the ledger uses: draft, contact, block (an event
        followup created: the follow-up block; tentative holds are "hold" if present)."""
        ...


class RequestCounts:
    """Per-route and per-user request counters, safe to read from another thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total = 0
        self.routes: Counter[str] = Counter()
        self.users: Counter[str] = Counter()
        self.status: Counter[int] = Counter()
        self.started = time.monotonic()

    def add(self, route: str, user: str | None, status: int) -> None:
        with self._lock:
            self.total += 1
            self.routes[route] += 1
            if user is not None:
                self.users[user] += 1
            self.status[status] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": self.total, "routes": dict(self.routes),
                    "users": dict(self.users),
                    "status": {str(k): v for k, v in self.status.items()}}

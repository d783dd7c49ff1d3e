"""Google Calendar v3, Gmail v1, People v1 and the OAuth token endpoint for MANY users, on
one asyncio loop (a Starlette app; serve.py runs it under uvicorn).

Each user's state and rules are those of the single-user fake the Google tests use
(tests/google/fake_google.py: sync tokens and 410, 409 for a reused event id, drafts and the
Gmail search subset, contacts, contact groups and a People search that sees what existed at
the last warm-up): one `FakeGoogle` (its push subclass) per user, never started as a
server, so a rule fixed there holds here too. This module adds what a scale run needs on top:

- users told apart by their access token: the token endpoint maps each refresh token to its
  user and issues an access token bound to that user;
- every request waits `latency` seconds (asyncio.sleep: a thousand waiting requests cost no
  CPU and no thread) and is counted per user and per route (the discovery method id);
- a 429 storm (Retry-After) and revoked grants (invalid_grant) per user;
- `written(user)`: what followup created, to check the ledger against (0 duplicates, 0 lost);
- push (tests/push/fake_google_push.py's FakeGooglePush per user: Calendar events.watch
  channels with their token, resourceId and expiration, channels.stop, and Gmail
  users.watch/stop): a channel's pings are sent by push.Notifier on this loop with the
  headers Google sends (X-Goog-Channel-ID, -Token, -Resource-ID, -Resource-State "sync"
  then "exists", -Message-Number), whenever the watched calendar changes: a meeting the
  benchmark adds ("meeting") or an event followup writes there ("echo", as Google pings for
  every change, the watcher's own included);
- Gmail push: while a user's users.watch is live, a message added to the mailbox with one
  of the watch's labelIds (all labels when it named none, as Gmail filters) publishes
  {"emailAddress", "historyId"} to the watch's topic at the Pub/Sub fake (pubsub.py, served
  by serve.py): an inbound mail the benchmark delivers ("mail", `add_mail`) or a message
  followup's writes make ("echo": a draft has only DRAFT, so a watch on INBOX and SENT, as
  followup's, is not told of it, as Gmail does not tell it).

Routes followup does not call are served as the reference fake serves them (every handler in
its HANDLERS table); a request that matches no route is answered 404 and listed in `unknown`,
so a benchmark run shows at once which call the fake lacks.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import secrets
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from benchmarks.scalefakes.control import Meeting, RequestCounts
from benchmarks.scalefakes.pubsub import PubSubScaleFake
from benchmarks.scalefakes.push import Notifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as StarletteRoute

_TESTS = Path(__file__).resolve().parents[2] / "tests"
for _folder in (_TESTS / "google", _TESTS):  # the reference fakes are test helpers
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

from fake_google import (  # noqa: E402 - after the path above
    ALL_SCOPES,
    ApiError,
    Route,
    _dispatch,
    _routes,
    rfc3339,
)

from push.fake_google_push import FakeGooglePush  # noqa: E402 - the same rules as the tests'

CLIENT_ID, CLIENT_SECRET = "scale-client-id", "scale-client-secret"
ACCESS_SECONDS = 3600
# Calendar writes that change what a channel on that calendar watches.
_CALENDAR_WRITES = frozenset({"calendar.events.insert", "calendar.events.patch",
                              "calendar.events.update", "calendar.events.delete",
                              "calendar.events.import", "calendar.events.move"})


class _PushState(FakeGooglePush):
    """One user's Google: the push tests' rules; its pings go out through the Notifier
    (asynchronously, on the fake's loop) instead of a blocking requests.post."""

    def __init__(self, user: str, email: str, notifier: Notifier, base: str,
                 pubsub: PubSubScaleFake) -> None:
        super().__init__(user=email)
        self.scale_user = user
        self.scale_base = base
        self.notifier = notifier
        self.pubsub = pubsub
        self.cause = "sync"  # why the next pings go out (events_watch's first one: "sync")
        self.mail_cause = "echo"  # why the next Gmail notice goes out (followup's write)

    def add_message(self, raw: bytes, *, labels: list[str] | None = None,
                    at: datetime | None = None) -> dict[str, Any]:
        """Every message the mailbox gains (received, a draft, a sent one) comes here:
        a live watch whose labels it carries publishes the mailbox's new historyId."""
        msg = super().add_message(raw, labels=labels, at=at)
        watch = self.watches.get(self.user)
        if watch and float(watch["expiration"]) > self.now() * 1000:
            wanted = set(watch.get("labelIds") or [])
            if not wanted or wanted & set(msg["labelIds"]):
                self.pubsub.publish(watch["topic"], {"emailAddress": self.user,
                                                     "historyId": self.history_id},
                                    user=self.scale_user, cause=self.mail_cause)
        return msg

    @property
    def base(self) -> str:  # never served itself: the scale fake's URL (resourceUri)
        return self.scale_base

    def _ping(self, channel: dict[str, Any], state: str) -> int:
        channel["number"] += 1
        headers = {"X-Goog-Channel-ID": channel["id"], "X-Goog-Resource-ID":
                   channel["resourceId"], "X-Goog-Resource-State": state,
                   "X-Goog-Message-Number": str(channel["number"]),
                   "X-Goog-Channel-Expiration": channel["expiration"]}
        if channel["token"]:
            headers["X-Goog-Channel-Token"] = channel["token"]
        self.notifier.post(channel["address"], headers=headers, user=self.scale_user,
                           kind="calendar", cause="sync" if state == "sync" else self.cause)
        return 0  # sent later: the status is in the Notifier's record

    def changed(self, calendar: str, cause: str) -> None:
        """`calendar` changed: every live channel on it is pinged ("exists")."""
        if not self.channels:
            return
        self.cause = cause
        with contextlib.suppress(ApiError):  # no such calendar: nothing watches it
            self.ping_calendar(calendar)


@dataclass
class _User:
    name: str
    email: str
    state: _PushState
    meetings: set[str] = field(default_factory=set)  # event ids the benchmark put there
    revoked: bool = False
    storm_until: float = 0.0


def _routes_by_method() -> dict[str, list[Route]]:
    """The reference fake's routes (longest literal first), split by HTTP method: a request
    is matched against its method's routes only."""
    out: dict[str, list[Route]] = {}
    for r in _routes():
        out.setdefault(r.http_method, []).append(r)
    return out


class GoogleScaleFake:
    kind = "google"

    def __init__(self, base_url: str, *, latency: float = 0.1) -> None:
        self.base = base_url.rstrip("/")
        self.latency = latency
        self.users: dict[str, _User] = {}
        self.refresh: dict[str, str] = {}  # refresh token -> user
        self.access: dict[str, tuple[str, float]] = {}  # access token -> (user, expiry)
        self.stats = RequestCounts()
        self.unknown: dict[str, int] = {}  # "METHOD /path" -> n: routes the fake lacks
        self._routes = _routes_by_method()
        self.notifier = Notifier(latency)
        self.pubsub = PubSubScaleFake(self.notifier, latency=latency)
        self.app = Starlette(routes=[StarletteRoute(
            "/{path:path}", self._serve, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])])

    # --- ScaleFake -----------------------------------------------------------------------

    def add_user(self, user: str, email: str) -> tuple[dict[str, Any], dict[str, bytes]]:
        state = _PushState(user, email, self.notifier, self.base, self.pubsub)
        self.users[user] = _User(user, email, state)
        refresh = f"1//scale-{user}-{secrets.token_urlsafe(8)}"
        self.refresh[refresh] = user
        config = {"kind": "google", "name": user, "calendar_url": self.base + "/calendar/v3/",
                  "gmail_url": self.base + "/", "people_url": self.base + "/",
                  "token_uri": self.base + "/token"}
        token = {"refresh_token": refresh, "client_id": CLIENT_ID,
                 "client_secret": CLIENT_SECRET, "token_uri": self.base + "/token",
                 "scopes": ALL_SCOPES}
        return config, {".json": json.dumps(token).encode()}

    def add_meeting(self, user: str, meeting: Meeting) -> None:
        u = self.users[user]
        org_name, org_email = meeting.organizer
        me = u.email.lower()
        attendees = [{"email": org_email, "displayName": org_name, "organizer": True,
                      "responseStatus": "accepted", **({"self": True}
                                                       if org_email.lower() == me else {})}]
        for name, addr in meeting.attendees:
            attendees.append({"email": addr, "displayName": name,
                              "responseStatus": "accepted" if addr.lower() == me
                              else "needsAction", **({"self": True}
                                                     if addr.lower() == me else {})})
        u.state.clock = datetime.now(UTC)
        ev = u.state.add_event(u.email, {
            "iCalUID": meeting.uid, "summary": meeting.summary,
            "description": meeting.description,
            "start": {"dateTime": rfc3339(meeting.start), "timeZone": "UTC"},
            "end": {"dateTime": rfc3339(meeting.end), "timeZone": "UTC"},
            "organizer": {"email": org_email, "displayName": org_name,
                          **({"self": True} if org_email.lower() == me else {})},
            "attendees": attendees})
        u.meetings.add(ev["id"])
        u.state.changed(u.email, "meeting")

    def add_mail(self, user: str, sender: str, subject: str = "Hello") -> None:
        """An inbound mail in the user's Inbox (Gmail then notifies a live watch)."""
        s = self.users[user].state
        s.clock = datetime.now(UTC)
        s.mail_cause = "mail"
        try:
            s.add_mail(sender, self.users[user].email, at=s.clock, subject=subject)
        finally:
            s.mail_cause = "echo"

    def storm(self, users: set[str], until: float) -> None:
        for name in users:
            self.users[name].storm_until = until

    def revoke(self, users: set[str]) -> None:
        for name in users:
            self.users[name].revoked = True
        self.access = {t: v for t, v in self.access.items() if v[0] not in users}

    def counts(self) -> dict[str, Any]:
        out = self.stats.snapshot()
        out["unknown"] = dict(self.unknown)
        out["notices"] = self.notifier.summary()
        out["channels"] = sum(len(u.state.channels) for u in self.users.values())
        out["gmail_watches"] = sum(len(u.state.watches) for u in self.users.values())
        out["pubsub"] = self.pubsub.counts()
        return out

    def written(self, user: str) -> dict[str, list[str]]:
        u = self.users[user]
        s = u.state
        drafts = []
        for mid in s.drafts.values():
            raw = s.messages[mid]["raw"]
            parsed = message_from_bytes(raw, policy=policy.default)
            drafts.append(str(parsed.get("Message-ID", mid)).strip())
        blocks, holds = [], []
        for cid, events in s.events.items():
            for eid, ev in events.items():
                if eid in u.meetings or ev["status"] == "cancelled":
                    continue
                (holds if ev["status"] == "tentative" else blocks).append(f"{cid}/{eid}")
        return {"draft": drafts, "contact": sorted(s.people), "block": blocks, "hold": holds}

    # --- HTTP ----------------------------------------------------------------------------

    async def _serve(self, request: Request) -> Response:
        self.notifier.bind()
        raw = await request.body()
        await asyncio.sleep(self.latency)
        path, method = request.url.path, request.method
        if path == "/token" and method == "POST":
            return self._token(raw, request.headers.get("authorization", ""))
        found = self._route(method, path)
        if found is None:
            key = f"{method} {path}"
            self.unknown[key] = self.unknown.get(key, 0) + 1
            self.stats.add("unknown", None, 404)
            return _error(ApiError(404, "notFound", "no such route in the scale fake"))
        route, params = found
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        entry = self.access.get(token)
        if entry is None or entry[1] < time.monotonic():
            self.stats.add(route.method_id, None, 401)
            return _error(ApiError(401, "authError",
                                   "Request had invalid authentication credentials."))
        u = self.users[entry[0]]
        if u.storm_until > time.monotonic():
            # Retry-After: the storm's remaining time, as a server that knows it would say.
            self.stats.add(route.method_id, u.name, 429)
            return _error(ApiError(429, "rateLimitExceeded", "Rate Limit Exceeded"), {
                "Retry-After": str(math.ceil(u.storm_until - time.monotonic()))})
        query = parse_qs(request.url.query, keep_blank_values=True)
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            self.stats.add(route.method_id, u.name, 400)
            return _error(ApiError(400, "parseError", "Parse Error"))
        u.state.clock = datetime.now(UTC)  # Gmail's internalDate, events' `updated`
        try:
            result = _dispatch(u.state, route.method_id, params, query, body)
        except ApiError as e:
            self.stats.add(route.method_id, u.name, e.code)
            return _error(e)
        if route.method_id in _CALENDAR_WRITES:
            u.state.changed(params.get("calendarId", "primary"), "echo")
        if result is None and method == "DELETE":
            self.stats.add(route.method_id, u.name, 204)
            return Response(status_code=204)
        self.stats.add(route.method_id, u.name, 200)
        return JSONResponse(result)

    def _route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for r in self._routes.get(method, []):
            m = r.pattern.match(path)
            if m:
                return r, {k: unquote(v) for k, v in m.groupdict().items()}
        return None

    def _token(self, raw: bytes, basic: str) -> Response:
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        if basic.startswith("Basic "):  # client credentials may come as HTTP Basic auth
            cid, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
            form.setdefault("client_id", unquote(cid))
            form.setdefault("client_secret", unquote(secret))
        user = self.refresh.get(form.get("refresh_token", ""))
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            self.stats.add("oauth2.token", user, 401)
            return JSONResponse({"error": "invalid_client"}, 401)
        if form.get("grant_type") != "refresh_token":
            self.stats.add("oauth2.token", user, 400)
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        if user is None or self.users[user].revoked:
            self.stats.add("oauth2.token", user, 400)
            return JSONResponse({"error": "invalid_grant",
                                 "error_description": "Token has been expired or revoked."},
                                400)
        token = f"ya29.scale-{secrets.token_urlsafe(16)}"
        self.access[token] = (user, time.monotonic() + ACCESS_SECONDS)
        self.stats.add("oauth2.token", user, 200)
        return JSONResponse({"access_token": token, "expires_in": ACCESS_SECONDS - 1,
                             "token_type": "Bearer", "scope": " ".join(ALL_SCOPES)})


def _error(e: ApiError, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(e.body(), e.code, headers={**e.headers, **(headers or {})})


def make_fake(base_url: str, *, latency: float = 0.1) -> GoogleScaleFake:
    return GoogleScaleFake(base_url, latency=latency)

"""A local stand-in for Google Calendar v3, Gmail v1, People v1 and the OAuth endpoints.

It speaks the REST API that google-api-python-client sends (routes and scopes come from the
discovery documents bundled with the library), with the rules that matter to followup:
sync tokens and 410, empty pages that still carry nextPageToken, 400 for parameters that are
forbidden with syncToken, 409 for a reused event id (also of a cancelled event), cancelled
events returned by get, recurring series as a master (listed only with singleEvents=false,
read by get with the series' first start) plus instances (listed with singleEvents=true),
a People search that only sees what existed at the last warm-up query, etag checks on
updateContact, 409 for a duplicate contact group, scope checks on every call, refresh tokens
that can be revoked (400 invalid_grant).

Faults: scripted per method (`fail_next`, `drop_next`, `delay_next`) or random at a rate with
a seed (`random_faults`): 429 with and without Retry-After, 403 rateLimitExceeded, 500, 503,
a connection dropped before the call is applied, and one dropped after it was applied.

Run standalone (for a daemon pointed at it):  python -m tests.google.fake_google --port 8765
It prints the config lines to use and a refresh token to import.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import email.utils
import functools
import hashlib
import itertools
import json
import random
import re
import secrets
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import googleapiclient

SCOPE_PREFIX = "https://www.googleapis.com/auth/"
ALL_SCOPES = [
    SCOPE_PREFIX + s
    for s in (
        "calendar.events.readonly", "calendar.freebusy", "calendar.events.owned",
        "calendar.app.created", "calendar.calendarlist.readonly", "gmail.compose",
        "gmail.readonly", "contacts", "contacts.other.readonly",
    )
]
FORBIDDEN_WITH_SYNC_TOKEN = (
    "iCalUID", "orderBy", "privateExtendedProperty", "q", "sharedExtendedProperty",
    "timeMin", "timeMax", "updatedMin",
)
EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ApiError(Exception):
    def __init__(
        self, code: int, reason: str, message: str, *, status: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.status = status or {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED",
                                 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                                 409: "ALREADY_EXISTS", 410: "ABORTED",
                                 429: "RESOURCE_EXHAUSTED"}.get(code, "INTERNAL")
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "status": self.status,
                          "errors": [{"domain": "global", "reason": self.reason,
                                      "message": self.message}]}}


@dataclass
class Fault:
    kind: str  # "status" | "drop_before" | "drop_after" | "delay"
    status: int = 503
    reason: str = "backendError"
    retry_after: str | None = None
    seconds: float = 0.0


RANDOM_FAULTS = [
    Fault("status", 429, "rateLimitExceeded", retry_after="1"),
    Fault("status", 429, "rateLimitExceeded"),
    Fault("status", 403, "userRateLimitExceeded"),
    Fault("status", 500, "backendError"),
    Fault("status", 503, "backendError"),
    Fault("drop_before"),
    Fault("drop_after"),
]


@dataclass
class Route:
    http_method: str
    pattern: re.Pattern[str]
    method_id: str
    scopes: frozenset[str]


@functools.cache
def _routes() -> list[Route]:
    docs = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"
    routes: list[Route] = []
    for name, prefix in (("calendar.v3", "/calendar/v3/"), ("gmail.v1", "/"),
                         ("people.v1", "/")):
        doc = json.loads((docs / f"{name}.json").read_text())

        def walk(res: dict[str, Any]) -> Iterator[dict[str, Any]]:
            for r in res.get("resources", {}).values():
                yield from r.get("methods", {}).values()
                yield from walk(r)

        for m in walk(doc):
            path = m.get("flatPath", m["path"])
            regex = "^" + prefix + re.sub(
                r"\\\{(?:\\\+)?(\w+)\\\}", r"(?P<\1>[^/:]+)", re.escape(path)) + "$"
            routes.append(Route(m["httpMethod"], re.compile(regex), m["id"],
                                frozenset(m.get("scopes", []))))
    # Literal paths first ("people:searchContacts" before "people/{id}").
    routes.sort(key=lambda r: -len(re.sub(r"\(\?P<\w+>\[\^/:\]\+\)", "", r.pattern.pattern)))
    return routes


def parse_time(value: dict[str, Any] | str) -> datetime:
    if isinstance(value, dict):
        if "dateTime" in value:
            return parse_time(value["dateTime"])
        d = date.fromisoformat(value["date"])
        return datetime(d.year, d.month, d.day, tzinfo=UTC)
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


# --- Gmail search (the subset followup uses) -----------------------------------------------


def _tokens(q: str) -> list[str]:
    return re.findall(r'\(|\)|\{|\}|-?"[^"]*"|[^\s(){}]+', q)


class _Query:
    """Gmail search: terms ANDed, OR, parentheses, {a b} (any of), -negation."""

    def __init__(self, q: str, fake: FakeGoogle, *, index_drafts: bool = True) -> None:
        self.toks, self.i, self.fake, self.index_drafts = _tokens(q), 0, fake, index_drafts
        self.tree = self._or()

    def _peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def _or(self) -> Any:
        parts = [self._and()]
        while self._peek() == "OR":
            self.i += 1
            parts.append(self._and())
        return ("or", parts)

    def _and(self) -> Any:
        parts = []
        while (t := self._peek()) is not None and t not in (")", "}", "OR"):
            parts.append(self._unary())
        return ("and", parts)

    def _unary(self) -> Any:
        t = self.toks[self.i]
        self.i += 1
        if t == "(":
            inner = self._or()
            self.i += 1
            return inner
        if t == "{":
            parts = []
            while self._peek() not in ("}", None):
                parts.append(self._unary())
            self.i += 1
            return ("or", parts)
        if t.startswith("-") and len(t) > 1:
            self.toks[self.i - 1] = t[1:]
            self.i -= 1
            return ("not", self._unary())
        return ("term", t)

    def matches(self, msg: dict[str, Any]) -> bool:
        return self._eval(self.tree, msg)

    def _eval(self, node: Any, msg: dict[str, Any]) -> bool:
        kind, arg = node
        if kind == "or":
            return any(self._eval(n, msg) for n in arg) if arg else True
        if kind == "and":
            return all(self._eval(n, msg) for n in arg)
        if kind == "not":
            return not self._eval(arg, msg)
        return self._term(arg, msg)

    def _term(self, t: str, msg: dict[str, Any]) -> bool:
        op, _, value = t.partition(":")
        value = value.strip('"').lower()
        parsed = msg["parsed"]
        if not _:
            return t.strip('"').lower() in (str(parsed.get("Subject", "")) + " " +
                                            msg["text"]).lower()
        if op == "from":
            if value == "me":
                return "SENT" in msg["labelIds"] or self.fake.user in _addrs(parsed, "From")
            return any(value in a for a in _addrs(parsed, "From"))
        if op in ("to", "cc", "bcc"):
            heads = ("To", "Cc", "Bcc") if op == "to" else (op.capitalize(),)
            found = [a for h in heads for a in _addrs(parsed, h)]
            return any(a == self.fake.user for a in found) if value == "me" else any(
                value in a for a in found)
        if op in ("after", "before"):
            secs = int(msg["internalDate"]) / 1000
            limit = float(value) if value.isdigit() else datetime.strptime(
                value.replace("-", "/"), "%Y/%m/%d").replace(tzinfo=UTC).timestamp()
            return secs >= limit if op == "after" else secs < limit
        if op == "rfc822msgid":
            if "DRAFT" in msg["labelIds"] and not self.index_drafts:
                return False
            return str(parsed.get("Message-ID", "")).strip().strip("<>").lower() == value.strip(
                "<>")
        if op == "has" and value == "attachment":
            return bool(msg["filenames"])
        if op == "filename":
            return any(f.lower().endswith("." + value) or f.lower() == value
                       for f in msg["filenames"])
        if op in ("in", "label"):
            return value.upper() in msg["labelIds"]
        if op == "subject":
            return value in str(parsed.get("Subject", "")).lower()
        raise ApiError(400, "invalidArgument", f"unsupported search operator {op}:")


def _addrs(parsed: Any, header: str) -> list[str]:
    values = parsed.get_all(header) or []
    return [a.lower() for _, a in email.utils.getaddresses([str(v) for v in values])]


# --- The fake ------------------------------------------------------------------------------


@dataclass
class Grant:
    scopes: list[str]
    client_id: str
    revoked: bool = False


class FakeGoogle:
    """State and rules; `start()` serves them on 127.0.0.1 in a thread."""

    def __init__(self, *, user: str = "me@example.com", seed: int = 0) -> None:
        self.lock = threading.RLock()
        self.user = user
        self.routes = _routes()
        self.client_id, self.client_secret = "fake-client-id", "fake-client-secret"
        self.grants: dict[str, Grant] = {}
        self.access: dict[str, tuple[Grant, float]] = {}  # token -> (grant, expires monotonic)
        self.codes: dict[str, tuple[list[str], str, str]] = {}  # code -> scopes, challenge, uri
        self.deny_scopes: set[str] = set()  # scopes the "user" unticks at consent
        self.refresh_token_expires_in: int | None = None  # Google's field for time-bound grants
        self.clock = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)  # Gmail internalDate of new drafts
        # Calendar
        self.calendars: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, dict[str, Any]]] = {}
        self.token_generation: dict[str, int] = {}
        self.event_gets: Counter[str] = Counter()  # events.get per event id
        self.seq = 0
        self.empty_pages = 0  # empty pages (with nextPageToken) before each listing's first
        self._add_calendar(user, "Primary", primary=True)
        # Gmail
        self.messages: dict[str, dict[str, Any]] = {}
        self.drafts: dict[str, str] = {}  # draft id -> message id
        self.history_id = 1000
        self.index_draft_message_ids = True  # False: rfc822msgid: does not find drafts
        # People
        self.people: dict[str, dict[str, Any]] = {}
        self.other_contacts: list[dict[str, Any]] = []
        self.search_visible: set[str] = set()  # resourceNames as of the last warm-up
        self.groups: dict[str, dict[str, Any]] = {
            "contactGroups/myContacts": {"resourceName": "contactGroups/myContacts",
                                         "name": "myContacts", "groupType": "SYSTEM_CONTACT_GROUP"},
            "contactGroups/starred": {"resourceName": "contactGroups/starred", "name": "starred",
                                      "groupType": "SYSTEM_CONTACT_GROUP"},
        }
        # Faults and accounting
        self.rng = random.Random(seed)
        self.fault_rate = 0.0
        self.scripted: dict[str, deque[Fault]] = {}
        self.log: list[tuple[str, int | str]] = []  # (method id, status or "dropped")
        self.applied_then_dropped: list[str] = []
        self._ids = itertools.count(1)
        self.server: ThreadingHTTPServer | None = None

    # -- serving --------------------------------------------------------------------------

    def start(self, port: int = 0) -> FakeGoogle:
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def account_urls(self) -> dict[str, str]:
        return {"calendar_url": self.base + "/calendar/v3/", "gmail_url": self.base + "/",
                "people_url": self.base + "/", "token_uri": self.base + "/token"}

    def client_secrets(self) -> dict[str, Any]:
        return {"installed": {
            "client_id": self.client_id, "client_secret": self.client_secret,
            "auth_uri": self.base + "/o/oauth2/auth", "token_uri": self.base + "/token",
            "redirect_uris": ["http://localhost"]}}

    # -- OAuth ----------------------------------------------------------------------------

    def issue_refresh_token(self, scopes: list[str] | None = None) -> str:
        token = "1//fake-refresh-" + secrets.token_urlsafe(12)
        self.grants[token] = Grant(list(scopes or ALL_SCOPES), self.client_id)
        return token

    def authorized_user_info(self, scopes: list[str] | None = None) -> dict[str, Any]:
        """What `Credentials.to_json()` gives after a consent, for a token file."""
        return {"refresh_token": self.issue_refresh_token(scopes), "client_id": self.client_id,
                "client_secret": self.client_secret, "token_uri": self.base + "/token",
                "scopes": list(scopes or ALL_SCOPES)}

    def revoke_all(self) -> None:
        with self.lock:
            for g in self.grants.values():
                g.revoked = True
            self.access.clear()

    def expire_access_tokens(self) -> None:
        with self.lock:
            self.access = {t: (g, 0.0) for t, (g, _) in self.access.items()}

    def _new_access(self, grant: Grant) -> dict[str, Any]:
        token = "ya29.fake-" + secrets.token_urlsafe(16)
        self.access[token] = (grant, time.monotonic() + 3600)
        return {"access_token": token, "expires_in": 3599, "token_type": "Bearer",
                "scope": " ".join(grant.scopes)}

    def token_endpoint(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id,
                                                                  self.client_secret):
            return 401, {"error": "invalid_client", "error_description": "Unauthorized"}
        grant_type = form.get("grant_type")
        if grant_type == "refresh_token":
            grant = self.grants.get(form.get("refresh_token", ""))
            if grant is None or grant.revoked:
                return 400, {"error": "invalid_grant",
                             "error_description": "Token has been expired or revoked."}
            return 200, self._new_access(grant)
        if grant_type == "authorization_code":
            entry = self.codes.pop(form.get("code", ""), None)
            if entry is None:
                return 400, {"error": "invalid_grant", "error_description": "Bad Request"}
            scopes, challenge, redirect_uri = entry
            verifier = form.get("code_verifier", "")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            if digest.decode().rstrip("=") != challenge or form.get("redirect_uri") != (
                    redirect_uri):
                return 400, {"error": "invalid_grant", "error_description": "PKCE/redirect"}
            refresh = self.issue_refresh_token(scopes)
            body = self._new_access(self.grants[refresh])
            body["refresh_token"] = refresh
            if self.refresh_token_expires_in is not None:
                body["refresh_token_expires_in"] = self.refresh_token_expires_in
            return 200, body
        return 400, {"error": "unsupported_grant_type"}

    def authorize(self, params: dict[str, str]) -> str:
        """The consent screen, always answered "Allow": the redirect back to the app."""
        requested = params.get("scope", "").split()
        granted = [s for s in requested if s not in self.deny_scopes]
        code = "4/fake-code-" + secrets.token_urlsafe(8)
        self.codes[code] = (granted, params.get("code_challenge", ""),
                            params.get("redirect_uri", ""))
        query = urlencode({"state": params.get("state", ""), "code": code,
                           "scope": " ".join(granted)})
        return f"{params['redirect_uri']}?{query}"

    def _check_auth(self, header: str | None, route: Route) -> None:
        token = (header or "").removeprefix("Bearer ").strip()
        entry = self.access.get(token)
        if entry is None or entry[1] < time.monotonic() or entry[0].revoked:
            raise ApiError(401, "authError", "Request had invalid authentication credentials.")
        if route.scopes and not (set(entry[0].scopes) & route.scopes):
            raise ApiError(403, "insufficientPermissions",
                           "Request had insufficient authentication scopes.")

    # -- faults ---------------------------------------------------------------------------

    def fail_next(self, method_id: str, status: int, reason: str = "backendError", *,
                  retry_after: str | None = None, times: int = 1) -> None:
        self.scripted.setdefault(method_id, deque()).extend(
            Fault("status", status, reason, retry_after) for _ in range(times))

    def drop_next(self, method_id: str, *, after_apply: bool = True, times: int = 1) -> None:
        kind = "drop_after" if after_apply else "drop_before"
        self.scripted.setdefault(method_id, deque()).extend(Fault(kind) for _ in range(times))

    def delay_next(self, method_id: str, seconds: float) -> None:
        self.scripted.setdefault(method_id, deque()).append(Fault("delay", seconds=seconds))

    def random_faults(self, rate: float, seed: int | None = None) -> None:
        self.fault_rate = rate
        if seed is not None:
            self.rng = random.Random(seed)

    def _fault_for(self, method_id: str) -> Fault | None:
        queue = self.scripted.get(method_id)
        if queue:
            return queue.popleft()
        if self.fault_rate and self.rng.random() < self.fault_rate:
            return self.rng.choice(RANDOM_FAULTS)
        return None

    def count(self, prefix: str = "") -> int:
        return sum(1 for m, _ in self.log if m.startswith(prefix))

    def counts(self) -> Counter[str]:
        return Counter(m for m, _ in self.log)

    def reset_log(self) -> None:
        self.log.clear()

    def next_id(self, prefix: str = "") -> str:
        return f"{prefix}{next(self._ids):06d}"

    # -- Calendar -------------------------------------------------------------------------

    def _add_calendar(self, cid: str, summary: str, *, primary: bool = False,
                      description: str = "") -> dict[str, Any]:
        cal = {"kind": "calendar#calendar", "id": cid, "summary": summary,
               "description": description, "timeZone": "UTC", "etag": '"1"'}
        if primary:
            cal["primary"] = True
        self.calendars[cid] = cal
        self.events[cid] = {}
        self.token_generation[cid] = 1
        return cal

    def _cal(self, cid: str) -> str:
        cid = self.user if cid == "primary" else cid
        if cid not in self.calendars:
            raise ApiError(404, "notFound", "Not Found")
        return cid

    def _stamp(self, ev: dict[str, Any]) -> None:
        self.seq += 1
        ev["_seq"] = self.seq
        ev["etag"] = f'"{self.seq}"'
        ev["updated"] = rfc3339(self.clock)

    def add_event(self, cid: str, event: dict[str, Any]) -> dict[str, Any]:
        """Put an event in a calendar as Google would (an invitation arriving, the UI)."""
        with self.lock:
            cid = self._cal(cid)
            ev = {"kind": "calendar#event", "status": "confirmed", "sequence": 0,
                  "eventType": "default", **event}
            ev.setdefault("id", self.next_id("ev").lower())
            ev.setdefault("iCalUID", ev["id"] + "@google.com")
            ev.setdefault("organizer", {"email": cid, "self": True})
            self._stamp(ev)
            self.events[cid][ev["id"]] = ev
            return ev

    def add_series(self, cid: str, master: dict[str, Any], starts: list[datetime],
                   duration: timedelta = timedelta(hours=1),
                   recurrence: str = "RRULE:FREQ=WEEKLY") -> tuple[dict[str, Any],
                                                                    list[dict[str, Any]]]:
        """A recurring event as Google keeps it: the master, whose `start` is the first
        occurrence's, and one instance per start (what singleEvents=true expands to), each
        with the master's fields, `recurringEventId` and `originalStartTime`. Changing an
        instance with change_event makes it an exception."""
        first = starts[0]
        with self.lock:
            head = self.add_event(cid, {
                **master, "recurrence": [recurrence],
                "start": {"dateTime": rfc3339(first), "timeZone": "UTC"},
                "end": {"dateTime": rfc3339(first + duration), "timeZone": "UTC"}})
            shared = {k: v for k, v in head.items()
                      if k not in ("id", "recurrence", "start", "end", "etag", "updated")
                      and not k.startswith("_")}
            instances = [self.add_event(cid, {
                **json.loads(json.dumps(shared)),
                "id": f"{head['id']}_{t.astimezone(UTC):%Y%m%dT%H%M%SZ}".lower(),
                "recurringEventId": head["id"],
                "originalStartTime": {"dateTime": rfc3339(t), "timeZone": "UTC"},
                "start": {"dateTime": rfc3339(t), "timeZone": "UTC"},
                "end": {"dateTime": rfc3339(t + duration), "timeZone": "UTC"},
                "_expanded": True}) for t in starts]
            return head, instances

    def change_event(self, cid: str, event_id: str, **fields: Any) -> dict[str, Any]:
        with self.lock:
            ev = self.events[self._cal(cid)][event_id]
            ev.update(fields)
            ev.pop("_expanded", None)  # a changed instance is an exception, listed either way
            self._stamp(ev)
            return ev

    def cancel_event(self, cid: str, event_id: str) -> None:
        self.change_event(cid, event_id, status="cancelled")

    def invalidate_sync_tokens(self, cid: str = "primary") -> None:
        with self.lock:
            self.token_generation[self._cal(cid)] += 1

    def live_events(self, cid: str = "primary") -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.events[self._cal(cid)].values()
                    if e["status"] != "cancelled"]

    def _public(self, ev: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in ev.items() if not k.startswith("_")}

    def events_list(self, p: dict[str, Any], q: dict[str, list[str]]) -> dict[str, Any]:
        cid = self._cal(p["calendarId"])
        single = _one(q, "singleEvents") == "true"
        sync = _one(q, "syncToken")
        page = _one(q, "pageToken")
        if sync:
            bad = [k for k in FORBIDDEN_WITH_SYNC_TOKEN if k in q]
            if bad or _one(q, "showDeleted") == "false":
                raise ApiError(400, "syncTokenWithRequestRestrictions",
                               f"Sync token cannot be used with {', '.join(bad) or 'showDeleted'}")
            m = re.fullmatch(r"st:(\d+):(\d+):(.+)", sync)
            if not m or m.group(3) != cid or int(m.group(2)) != self.token_generation[cid]:
                raise ApiError(410, "fullSyncRequired", "Sync token is no longer valid, a full "
                               "sync is required.")
        if page:
            pm = re.fullmatch(r"p(\d+)e(\d+)s(\d+)", page)
            if not pm:
                raise ApiError(400, "invalid", "Invalid page token")
            offset, empties, snap = (int(x) for x in pm.groups())
        else:
            offset, empties, snap = 0, self.empty_pages, self.seq
        if empties:
            return {"kind": "calendar#events", "items": [],
                    "nextPageToken": f"p{offset}e{empties - 1}s{snap}"}
        evs = [e for e in self.events[cid].values() if e["_seq"] <= snap]
        if single:
            evs = [e for e in evs if "recurrence" not in e]
        else:  # masters and exceptions, not the instances a master stands for
            evs = [e for e in evs if not e.get("_expanded")]
        if sync:
            evs = [e for e in evs if e["_seq"] > int(m.group(1))]  # type: ignore[union-attr]
        else:
            if _one(q, "showDeleted") != "true":
                evs = [e for e in evs if e["status"] != "cancelled"]
            if "timeMin" in q:
                tmin = parse_time(_one(q, "timeMin") or "")
                evs = [e for e in evs if parse_time(e["end"]) > tmin]
            if "timeMax" in q:
                tmax = parse_time(_one(q, "timeMax") or "")
                evs = [e for e in evs if parse_time(e["start"]) < tmax]
        evs.sort(key=lambda e: e["_seq"])
        size = min(int(_one(q, "maxResults") or 250), 2500)
        chunk = evs[offset:offset + size]
        out: dict[str, Any] = {"kind": "calendar#events", "summary": self.calendars[cid][
            "summary"], "timeZone": "UTC", "items": [self._public(e) for e in chunk]}
        if offset + size < len(evs):
            out["nextPageToken"] = f"p{offset + size}e0s{snap}"
        else:
            out["nextSyncToken"] = f"st:{snap}:{self.token_generation[cid]}:{cid}"
        return out

    def events_insert(self, p: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        cid = self._cal(p["calendarId"])
        eid = body.get("id")
        if eid is not None and not EVENT_ID.fullmatch(eid):
            raise ApiError(400, "invalid", "Invalid resource id value.")
        if eid in self.events[cid]:
            raise ApiError(409, "duplicate", "The requested identifier already exists.")
        if "start" not in body or "end" not in body:
            raise ApiError(400, "required", "Missing end time.")
        ev = dict(body)
        ev.pop("iCalUID", None)
        return self._public(self.add_event(cid, ev))

    def events_get(self, p: dict[str, Any]) -> dict[str, Any]:
        self.event_gets[p["eventId"]] += 1
        ev = self.events[self._cal(p["calendarId"])].get(p["eventId"])
        if ev is None:
            raise ApiError(404, "notFound", "Not Found")
        return self._public(ev)

    def events_patch(self, p: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        cid = self._cal(p["calendarId"])
        ev = self.events[cid].get(p["eventId"])
        if ev is None:
            raise ApiError(404, "notFound", "Not Found")
        for k, v in body.items():
            if k == "extendedProperties":
                for scope, props in v.items():
                    ev.setdefault(k, {}).setdefault(scope, {}).update(props)
            else:
                ev[k] = v
        self._stamp(ev)
        return self._public(ev)

    def events_delete(self, p: dict[str, Any]) -> None:
        cid = self._cal(p["calendarId"])
        ev = self.events[cid].get(p["eventId"])
        if ev is None:
            raise ApiError(404, "notFound", "Not Found")
        if ev["status"] == "cancelled":
            raise ApiError(410, "deleted", "Resource has been deleted")
        ev["status"] = "cancelled"
        self._stamp(ev)

    def calendar_list(self) -> dict[str, Any]:
        items = [{"kind": "calendar#calendarListEntry", "accessRole": "owner", **c}
                 for c in self.calendars.values()]
        return {"kind": "calendar#calendarList", "items": items}

    def calendars_insert(self, body: dict[str, Any]) -> dict[str, Any]:
        if not body.get("summary"):
            raise ApiError(400, "required", "Missing summary.")
        cid = f"c_{secrets.token_hex(16)}@group.calendar.google.com"
        cal = self._add_calendar(cid, body["summary"], description=body.get("description", ""))
        cal["timeZone"] = body.get("timeZone", "UTC")
        return dict(cal)

    def freebusy(self, body: dict[str, Any]) -> dict[str, Any]:
        tmin, tmax = parse_time(body["timeMin"]), parse_time(body["timeMax"])
        out: dict[str, Any] = {}
        for item in body.get("items", []):
            try:
                cid = self._cal(item["id"])
            except ApiError:
                out[item["id"]] = {"errors": [{"domain": "global", "reason": "notFound"}],
                                   "busy": []}
                continue
            spans = []
            for e in self.events[cid].values():
                if (e["status"] == "cancelled" or e.get("transparency") == "transparent"
                        or "recurrence" in e):  # a master: its instances are the busy times
                    continue
                me = [a for a in e.get("attendees", []) if a.get("self")]
                if me and me[0].get("responseStatus") == "declined":
                    continue
                s, t = parse_time(e["start"]), parse_time(e["end"])
                if s < tmax and t > tmin:
                    spans.append((max(s, tmin), min(t, tmax)))
            spans.sort()
            merged: list[list[datetime]] = []
            for s, t in spans:
                if merged and s <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], t)
                else:
                    merged.append([s, t])
            out[item["id"]] = {"busy": [{"start": rfc3339(s), "end": rfc3339(t)}
                                        for s, t in merged]}
        return {"kind": "calendar#freeBusy", "timeMin": body["timeMin"],
                "timeMax": body["timeMax"], "calendars": out}

    # -- Gmail ----------------------------------------------------------------------------

    def add_message(self, raw: bytes, *, labels: list[str] | None = None,
                    at: datetime | None = None) -> dict[str, Any]:
        """A message in the mailbox (received, or sent with labels=["SENT"])."""
        with self.lock:
            parsed = message_from_bytes(raw, policy=policy.default)
            # Gmail lists a calendar part without a name as "invite.ics" (an assumption: what
            # its web UI shows; whether search indexes it so is unverified).
            filenames = [p.get_filename() or "invite.ics" for p in parsed.walk()
                         if p.get_filename() or p.get_content_type() == "text/calendar"]
            text = " ".join(str(p.get_content()) for p in parsed.walk()
                            if p.get_content_type() == "text/plain")
            when = at or self.clock
            self.history_id += 1
            mid = self.next_id("18f")
            msg = {"id": mid, "threadId": mid, "labelIds": labels or ["INBOX"], "raw": raw,
                   "parsed": parsed, "filenames": filenames, "text": text,
                   "internalDate": str(int(when.timestamp() * 1000)),
                   "historyId": str(self.history_id)}
            self.messages[mid] = msg
            return msg

    def add_mail(self, sender: str, to: str, *, at: datetime, subject: str = "Hello",
                 sent: bool = False, attachment: tuple[str, str, bytes] | None = None
                 ) -> dict[str, Any]:
        m = EmailMessage()
        m["From"], m["To"], m["Subject"] = sender, to, subject
        m["Date"] = email.utils.format_datetime(at)
        m["Message-ID"] = email.utils.make_msgid(domain="example.net")
        m.set_content("Hello there.\n")
        if attachment:
            ctype, name, data = attachment
            maintype, subtype = ctype.split("/")
            m.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
        return self.add_message(m.as_bytes(), labels=["SENT"] if sent else ["INBOX"], at=at)

    def _msg(self, mid: str) -> dict[str, Any]:
        msg = self.messages.get(mid)
        if msg is None:
            raise ApiError(404, "notFound", "Requested entity was not found.")
        return msg

    def message_resource(self, msg: dict[str, Any], fmt: str,
                         headers: list[str] | None = None) -> dict[str, Any]:
        out = {k: msg[k] for k in ("id", "threadId", "labelIds", "internalDate", "historyId")}
        out["sizeEstimate"] = len(msg["raw"])
        if fmt == "raw":
            out["raw"] = base64.urlsafe_b64encode(msg["raw"]).decode()
        elif fmt in ("metadata", "full"):
            wanted = {h.lower() for h in headers or []}
            out["payload"] = {"mimeType": msg["parsed"].get_content_type(), "headers": [
                {"name": k, "value": str(v)} for k, v in msg["parsed"].items()
                if fmt == "full" or not wanted or k.lower() in wanted]}
        return out

    def _search(self, q: str | None, pool: list[dict[str, Any]], *, spam_trash: bool = False,
                drafts_indexed: bool = True) -> list[dict[str, Any]]:
        query = _Query(q or "", self, index_drafts=drafts_indexed)
        hits = [m for m in pool if query.matches(m) and (
            spam_trash or not ({"SPAM", "TRASH"} & set(m["labelIds"])))]
        return sorted(hits, key=lambda m: -int(m["internalDate"]))

    def _page(self, items: list[Any], q: dict[str, list[str]], default: int, cap: int
              ) -> tuple[list[Any], str | None]:
        offset = int(_one(q, "pageToken") or 0)
        size = min(int(_one(q, "maxResults") or default), cap)
        nxt = str(offset + size) if offset + size < len(items) else None
        return items[offset:offset + size], nxt

    def messages_list(self, q: dict[str, list[str]]) -> dict[str, Any]:
        hits = self._search(_one(q, "q"), list(self.messages.values()),
                            spam_trash=_one(q, "includeSpamTrash") == "true",
                            drafts_indexed=self.index_draft_message_ids)
        chunk, nxt = self._page(hits, q, 100, 500)
        out: dict[str, Any] = {"resultSizeEstimate": len(hits)}
        if chunk:
            out["messages"] = [{"id": m["id"], "threadId": m["threadId"]} for m in chunk]
        if nxt:
            out["nextPageToken"] = nxt
        return out

    def drafts_create(self, body: dict[str, Any]) -> dict[str, Any]:
        raw_b64 = (body.get("message") or {}).get("raw")
        if not raw_b64:
            raise ApiError(400, "invalidArgument", "Missing draft message")
        thread = (body.get("message") or {}).get("threadId")
        if thread and not any(m["threadId"] == thread for m in self.messages.values()):
            raise ApiError(404, "notFound", "Requested entity was not found.")
        msg = self.add_message(b64url_decode(raw_b64), labels=["DRAFT"])
        if thread:  # a reply draft joins the thread it names
            msg["threadId"] = thread
        did = "r-" + self.next_id()
        self.drafts[did] = msg["id"]
        return {"id": did, "message": {"id": msg["id"], "threadId": msg["threadId"],
                                       "labelIds": ["DRAFT"]}}

    def drafts_list(self, q: dict[str, list[str]]) -> dict[str, Any]:
        pool = [self.messages[mid] for mid in self.drafts.values()]
        hits = self._search(_one(q, "q"), pool, drafts_indexed=self.index_draft_message_ids)
        by_msg = {mid: did for did, mid in self.drafts.items()}
        chunk, nxt = self._page(hits, q, 100, 500)
        out: dict[str, Any] = {"resultSizeEstimate": len(hits)}
        if chunk:
            out["drafts"] = [{"id": by_msg[m["id"]], "message": {
                "id": m["id"], "threadId": m["threadId"]}} for m in chunk]
        if nxt:
            out["nextPageToken"] = nxt
        return out

    def drafts_get(self, p: dict[str, Any], q: dict[str, list[str]]) -> dict[str, Any]:
        mid = self.drafts.get(p["id"])
        if mid is None:
            raise ApiError(404, "notFound", "Requested entity was not found.")
        fmt = _one(q, "format") or "full"
        return {"id": p["id"], "message": self.message_resource(
            self.messages[mid], fmt, q.get("metadataHeaders"))}

    def drafts_delete(self, p: dict[str, Any]) -> None:
        mid = self.drafts.pop(p["id"], None)
        if mid is None:
            raise ApiError(404, "notFound", "Requested entity was not found.")
        del self.messages[mid]
        self.history_id += 1

    def user_edits_draft(self, draft_id: str, new_body: str = "Edited by hand.\n") -> None:
        """drafts.update as the Gmail UI does it: a new message (new id) in the same draft."""
        with self.lock:
            old = self.messages.pop(self.drafts[draft_id])
            parsed = message_from_bytes(old["raw"], policy=policy.default)
            parsed.set_content(new_body)
            msg = self.add_message(parsed.as_bytes(), labels=["DRAFT"])
            self.drafts[draft_id] = msg["id"]

    def user_deletes_draft(self, draft_id: str) -> None:
        with self.lock:
            self.drafts_delete({"id": draft_id})

    # -- People ---------------------------------------------------------------------------

    def _person(self, rn: str) -> dict[str, Any]:
        person = self.people.get(rn)
        if person is None:
            raise ApiError(404, "notFound", "Requested entity was not found.")
        return person

    @staticmethod
    def _masked(person: dict[str, Any], mask: str | None) -> dict[str, Any]:
        if not mask:
            raise ApiError(400, "invalidArgument", "personFields/readMask is required")
        fields = {f.strip() for f in mask.split(",")}
        return {k: v for k, v in person.items()
                if k in ("resourceName", "etag") or k in fields}

    def _bump(self, person: dict[str, Any]) -> None:
        self.seq += 1
        person["etag"] = f"%Ep{self.seq}"

    def add_contact(self, email_addr: str, name: str, note: str = "",
                    **extra: Any) -> dict[str, Any]:
        """A card the user made (visible to search only after the next warm-up)."""
        with self.lock:
            body = {"names": [{"displayName": name, "unstructuredName": name}],
                    "emailAddresses": [{"value": email_addr}], **extra}
            if note:
                body["biographies"] = [{"value": note, "contentType": "TEXT_PLAIN"}]
            return self.create_contact(body)

    def create_contact(self, body: dict[str, Any]) -> dict[str, Any]:
        for singleton in ("names", "biographies", "genders", "birthdays"):
            if len(body.get(singleton, [])) > 1:
                raise ApiError(400, "invalidArgument", f"{singleton} is a singleton field")
        memberships = list(body.get("memberships", []))
        for m in memberships:
            group = m.get("contactGroupMembership", {}).get("contactGroupResourceName")
            if group not in self.groups:
                raise ApiError(400, "invalidArgument", f"unknown contact group {group}")
        memberships.append({"contactGroupMembership": {
            "contactGroupResourceName": "contactGroups/myContacts"}})
        rn = "people/c" + self.next_id()
        person = {**body, "resourceName": rn, "memberships": memberships,
                  "metadata": {"sources": [{"type": "CONTACT", "id": rn[8:]}]}}
        self._bump(person)
        self.people[rn] = person
        return person

    def update_contact(self, rn: str, fields: str | None, body: dict[str, Any]
                       ) -> dict[str, Any]:
        person = self._person(rn)
        if not fields:
            raise ApiError(400, "invalidArgument", "updatePersonFields is required")
        if body.get("etag") != person["etag"]:
            raise ApiError(400, "failedPrecondition", "Request person.etag is different than "
                           "the current person.etag. Clear local cache and get the latest "
                           "person.", status="FAILED_PRECONDITION")
        for f in fields.split(","):
            f = f.strip()
            if body.get(f):
                person[f] = body[f]
            else:
                person.pop(f, None)
        self._bump(person)
        return person

    def people_search(self, pool: list[dict[str, Any]], query: str) -> list[dict[str, Any]]:
        ql = query.lower()

        def words(p: dict[str, Any]) -> list[str]:
            out = [e.get("value", "").lower() for e in p.get("emailAddresses", [])]
            for n in p.get("names", []):
                out += str(n.get("displayName", "")).lower().split()
            for o in p.get("organizations", []):
                out += str(o.get("name", "")).lower().split()
            return out

        return [p for p in pool if any(w.startswith(ql) for w in words(p))]


def _one(q: dict[str, list[str]], name: str) -> str | None:
    values = q.get(name)
    return values[0] if values else None


# --- HTTP ----------------------------------------------------------------------------------


class _Dropped(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGoogle
    protocol_version = "HTTP/1.1"
    # One write per response, sent at once: otherwise headers and body go out as two small
    # segments and Nagle + delayed ACK add 40 ms to every request.
    wbufsize = -1
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read fake.log instead

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _serve(self) -> None:
        fake = self.fake
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        query = parse_qs(url.query, keep_blank_values=True)
        if url.path == "/token" and self.command == "POST":
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            basic = self.headers.get("Authorization", "")
            if basic.startswith("Basic "):  # client credentials may come as HTTP Basic auth
                cid, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
                form.setdefault("client_id", unquote(cid))
                form.setdefault("client_secret", unquote(secret))
            with fake.lock:
                status, body = fake.token_endpoint(form)
                fake.log.append(("oauth2.token", status))
            self._send(status, body)
            return
        if url.path == "/o/oauth2/auth":
            with fake.lock:
                location = fake.authorize({k: v[0] for k, v in query.items()})
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        route, params = self._route(url.path)
        if route is None:
            self._send(404, ApiError(404, "notFound", "no such route").body())
            return
        with fake.lock:
            fault = fake._fault_for(route.method_id)
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
            fault = None
        if fault is not None and fault.kind == "drop_before":
            with fake.lock:
                fake.log.append((route.method_id, "dropped"))
            self._drop()
            return
        if fault is not None and fault.kind == "status":
            err = ApiError(fault.status, fault.reason, "fault injected")
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            with fake.lock:
                fake.log.append((route.method_id, fault.status))
            self._send(fault.status, err.body(), headers)
            return
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            self._send(400, ApiError(400, "parseError", "Parse Error").body())
            return
        with fake.lock:
            try:
                fake._check_auth(self.headers.get("Authorization"), route)
                result = _dispatch(fake, route.method_id, params, query, body)
                status = 204 if result is None and self.command == "DELETE" else 200
            except ApiError as e:
                fake.log.append((route.method_id, e.code))
                self._send(e.code, e.body(), e.headers)
                return
            if fault is not None and fault.kind == "drop_after":
                fake.log.append((route.method_id, "applied-dropped"))
                fake.applied_then_dropped.append(route.method_id)
                self._drop()
                return
            fake.log.append((route.method_id, status))
        if status == 204:
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send(status, result)

    def _route(self, path: str) -> tuple[Route | None, dict[str, str]]:
        for r in self.fake.routes:
            if r.http_method != self.command:
                continue
            m = r.pattern.match(path)
            if m:
                return r, {k: unquote(v) for k, v in m.groupdict().items()}
        return None, {}


Handler = Callable[[FakeGoogle, dict[str, str], dict[str, list[str]], dict[str, Any]], Any]

HANDLERS: dict[str, Handler] = {
    "calendar.events.list": lambda f, p, q, b: f.events_list(p, q),
    "calendar.events.insert": lambda f, p, q, b: f.events_insert(p, b),
    "calendar.events.get": lambda f, p, q, b: f.events_get(p),
    "calendar.events.patch": lambda f, p, q, b: f.events_patch(p, b),
    "calendar.events.delete": lambda f, p, q, b: f.events_delete(p),
    "calendar.calendarList.list": lambda f, p, q, b: f.calendar_list(),
    "calendar.calendars.insert": lambda f, p, q, b: f.calendars_insert(b),
    "calendar.freebusy.query": lambda f, p, q, b: f.freebusy(b),
    "gmail.users.getProfile": lambda f, p, q, b: {
        "emailAddress": f.user, "messagesTotal": len(f.messages), "threadsTotal": len(
            f.messages), "historyId": str(f.history_id)},
    "gmail.users.messages.list": lambda f, p, q, b: f.messages_list(q),
    "gmail.users.messages.get": lambda f, p, q, b: f.message_resource(
        f._msg(p["id"]), _one(q, "format") or "full", q.get("metadataHeaders")),
    "gmail.users.drafts.create": lambda f, p, q, b: f.drafts_create(b),
    "gmail.users.drafts.list": lambda f, p, q, b: f.drafts_list(q),
    "gmail.users.drafts.get": lambda f, p, q, b: f.drafts_get(p, q),
    "gmail.users.drafts.delete": lambda f, p, q, b: f.drafts_delete(p),
    "people.people.searchContacts": lambda f, p, q, b: _search_contacts(f, q),
    "people.otherContacts.search": lambda f, p, q, b: _search_other(f, q),
    "people.people.createContact": lambda f, p, q, b: f._masked(
        f.create_contact(b), _one(q, "personFields") or "names,emailAddresses"),
    "people.people.updateContact": lambda f, p, q, b: f._masked(
        f.update_contact("people/" + p["peopleId"], _one(q, "updatePersonFields"), b),
        _one(q, "personFields") or _one(q, "updatePersonFields")),
    "people.people.get": lambda f, p, q, b: f._masked(
        f._person("people/" + p["peopleId"]), _one(q, "personFields")),
    "people.people.deleteContact": lambda f, p, q, b: _delete_contact(f, p),
    "people.contactGroups.list": lambda f, p, q, b: {
        "contactGroups": list(f.groups.values()), "totalItems": len(f.groups)},
    "people.contactGroups.create": lambda f, p, q, b: _create_group(f, b),
}


def _dispatch(fake: FakeGoogle, method_id: str, p: dict[str, str], q: dict[str, list[str]],
              body: dict[str, Any]) -> Any:
    handler = HANDLERS.get(method_id)
    if handler is None:
        raise ApiError(501, "notImplemented", f"{method_id} is not in the fake")
    return handler(fake, p, q, body)


def _search_contacts(f: FakeGoogle, q: dict[str, list[str]]) -> dict[str, Any]:
    mask = _one(q, "readMask")
    if not mask:
        raise ApiError(400, "invalidArgument", "readMask is required")
    query = _one(q, "query") or ""
    if not query:  # the warm-up call: the search cache catches up with every write
        f.search_visible = set(f.people)
        return {}
    pool = [f.people[rn] for rn in f.search_visible if rn in f.people]
    size = min(int(_one(q, "pageSize") or 10), 30)
    hits = f.people_search(pool, query)[:size]
    return {"results": [{"person": f._masked(p, mask)} for p in hits]} if hits else {}


def _search_other(f: FakeGoogle, q: dict[str, list[str]]) -> dict[str, Any]:
    mask = _one(q, "readMask") or ""
    if not mask or set(mask.split(",")) - {"emailAddresses", "metadata", "names",
                                           "phoneNumbers"}:
        raise ApiError(400, "invalidArgument", "readMask must be a subset of emailAddresses,"
                       " metadata, names, phoneNumbers")
    hits = f.people_search(f.other_contacts, _one(q, "query") or "")
    return {"results": [{"person": f._masked(p, mask)} for p in hits]} if hits else {}


def _delete_contact(f: FakeGoogle, p: dict[str, str]) -> dict[str, Any]:
    f._person("people/" + p["peopleId"])
    del f.people["people/" + p["peopleId"]]
    return {}


def _create_group(f: FakeGoogle, body: dict[str, Any]) -> dict[str, Any]:
    name = (body.get("contactGroup") or {}).get("name", "")
    if not name:
        raise ApiError(400, "invalidArgument", "name is required")
    if any(g["name"] == name for g in f.groups.values()):
        raise ApiError(409, "alreadyExists", "Contact group name already exists.")
    rn = "contactGroups/" + secrets.token_hex(6)
    group = {"resourceName": rn, "name": name, "formattedName": name,
             "groupType": "USER_CONTACT_GROUP", "memberCount": 0, "etag": "g1"}
    f.groups[rn] = group
    return group


def main() -> None:  # pragma: no cover - a manual tool
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--user", default="me@example.com")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    fake = FakeGoogle(user=args.user, seed=args.seed).start(args.port)
    fake.clock = datetime.now(UTC)
    fake.random_faults(args.fault_rate)
    token_file = Path(f"fake-google-token-{args.port}.json")
    token_file.write_text(json.dumps(fake.authorized_user_info()))
    token_file.chmod(0o600)
    print(f"fake Google on {fake.base}; for an account in followup.toml:")
    for k, v in fake.account_urls().items():
        print(f'  {k} = "{v}"')
    print(f"then: followup connect google --account NAME --import-token {token_file}")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":  # pragma: no cover
    main()

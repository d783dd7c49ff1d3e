"""Microsoft Graph v1.0 and the Entra authority for MANY users, on one asyncio loop.

The scale version of tests/microsoft/graph_fake.py and authority_fake.py (same routes and
rules, ported to Starlette), for benchmarks/company_scale.py: every user has a mailbox of
their own (calendar, messages, contacts), told apart by the access token. What an idle sync
and a meeting-end sync of followup's Microsoft provider touch:

- the authority (msal): <tenant>/v2.0/.well-known/openid-configuration, instance discovery,
  <tenant>/oauth2/v2.0/token for refresh-token grants. A user's credential is the msal token
  cache `followup connect microsoft` would leave (built by msal itself), so `add_user` is
  cheap (~0.2 ms) and the first sync needs no interactive step; refresh tokens map to users,
  and each refresh issues an access token bound to its user;
- calendarView/delta: the window fixed by the first call, @odata.nextLink pages of
  odata.maxpagesize, @odata.deltaLink, @removed entries, 410 syncStateNotFound for a delta
  token that is unknown or too old (each user keeps their last few);
- events: create with transactionId (a repeated create returns the first event) and our
  single-value extended property, lookups by that property and by iCalUId, get, delete;
  getSchedule;
- messages: drafts (POST /me/messages, webLink), lookups by extended property, the Inbox
  listing by receivedDateTime, Sent Items $search "to:x", received mail by sender,
  createReply + PATCH, $value, attachments;
- contacts: lookup by email (emailAddresses/any), create with single- and multi-value
  extended properties and categories, PATCH with If-Match, get, delete;
- $batch of at most 20, each item routed as above.

Push (for `company_scale.py --push`; the rules of tests/push/fake_graph_push.py):
- the client credentials grant of an app with a certificate (`add_app` registers one per
  tenant: msal's signed client assertion is checked against the certificate), its access
  token good for /subscriptions;
- /subscriptions: POST on users/{address}/events|messages (app token) or me/events|messages
  (the user's delegated token), with the validation handshake on the notification and
  lifecycle URLs, an expiration within 10,080 minutes; PATCH to renew; DELETE;
- change notifications (clientState echoed) sent by push.Notifier on this loop whenever a
  user's events change (a meeting the benchmark adds: "meeting"; an event followup creates
  or deletes: "echo") or a message is created in the mailbox (followup's drafts: "echo", as
  Graph notifies the subscriber of its own changes too).

Every HTTP request first waits `latency` seconds (asyncio.sleep: a thousand waiting requests
cost no CPU) and is counted by route and user (control.RequestCounts); items inside a $batch
are counted apart (`batch_items`), so `requests` is what crossed the network.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import re
import secrets
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import jwt
import msal
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from followup.providers.microsoft.auth import SCOPES
from followup.providers.microsoft.targets import KEY_PROPERTY, KEYS_PROPERTY

from .control import Meeting, RequestCounts
from .graph_tls import TlsFiles, tls_files
from .graph_tls import tls as _tls
from .push import Notifier

__all__ = ["CLIENT_ID", "GraphScale", "TlsFiles", "make_fake", "make_graph", "tls",
           "tls_files"]

TENANT_ID = "72f988bf-0000-4000-8000-000000000001"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
TENANT = "organizations"
TOKEN_SECONDS = 3600
SUBSCRIPTION_MAX_MINUTES = 10_080
DELTA_TOKENS_KEPT = 8  # per user: older deltaLinks answer 410 syncStateNotFound
BATCH_LIMIT = 20
# What msal sends on a refresh: our scopes plus the reserved ones it adds itself.
GRANTED = " ".join([*SCOPES, "openid", "profile", "offline_access"])

Reply = tuple[int, Any, dict[str, str]]


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _dt(when: datetime) -> dict[str, str]:
    return {"dateTime": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
            "timeZone": "UTC"}


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_dt(value: dict[str, str]) -> datetime:
    """A dateTimeTimeZone as followup sends it (always UTC)."""
    return datetime.fromisoformat(value["dateTime"][:19]).replace(tzinfo=UTC)


def _parse_query_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _odata(literal: str) -> str:
    return literal.replace("''", "'")


def _error(status: int, code: str, message: str = "") -> Reply:
    return status, {"error": {"code": code, "message": message or code}}, {}


_NOT_FOUND = _error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
_PROP = re.compile(r"singleValueExtendedProperties/Any\(ep: ep/id eq '(.+?)' and "
                   r"ep/value eq '(.*)'\)")
# Routes whose success changes what a subscription watches: (resource, changeType).
_NOTIFYING = {"events.create": ("events", "created"), "events.delete": ("events", "deleted"),
              "messages.create": ("messages", "created"),
              "messages.create_reply": ("messages", "created")}
_MAXPAGE = re.compile(r"odata\.maxpagesize=(\d+)")


@dataclass
class Mailbox:
    """One user's state."""

    user: str
    email: str
    oid: str
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    calendars: dict[str, dict[str, Any]] = field(default_factory=dict)
    transactions: dict[str, str] = field(default_factory=dict)
    # delta token -> (window start, window end, {event id: version} as last reported)
    delta: dict[str, tuple[datetime, datetime, dict[str, int]]] = field(default_factory=dict)
    skip: dict[str, tuple[list[dict[str, Any]], str]] = field(default_factory=dict)
    revoked: bool = False
    storm_until: float = 0.0
    routes: Counter[str] = field(default_factory=Counter)


def _routes(rows: list[tuple[str, str, str, Callable[..., Reply]]]
            ) -> list[tuple[str, re.Pattern[str], str, Callable[..., Reply]]]:
    return [(m, re.compile(p), n, f) for m, p, n, f in rows]


class GraphScale:
    """The many-user Graph and authority (control.ScaleFake, kind "microsoft")."""

    kind = "microsoft"

    def __init__(self, base_url: str, *, latency: float = 0.1,
                 ca_bundle: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.graph_url = self.base_url + "/v1.0"
        self.latency = latency
        self.ca_bundle = ca_bundle
        self.boxes: dict[str, Mailbox] = {}
        self.access: dict[str, tuple[str, float]] = {}  # access token -> (user, expires at)
        self.refresh: dict[str, str] = {}  # refresh token -> user
        self.counts_ = RequestCounts()
        self.batch_items: Counter[str] = Counter()
        self.unknown: Counter[str] = Counter()  # "METHOD path" the fake has no route for
        self._n = 0
        # add_user / add_meeting / storm may come from serve.py's control thread.
        self._lock = threading.Lock()
        self.notifier = Notifier(latency)
        self.by_email: dict[str, str] = {}  # address -> user
        self.apps: dict[str, dict[str, Any]] = {}  # client id -> {"key": public key, ...}
        self.app_access: dict[str, tuple[str, float]] = {}  # app token -> (client, expiry)
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.subscribed: dict[tuple[str, str], set[str]] = {}  # (user, what) -> ids
        self.app = Starlette(routes=[Route(
            "/{path:path}", self._serve, methods=["GET", "POST", "PATCH", "DELETE", "PUT"])])

    # --- the control side (control.ScaleFake) ------------------------------------------------

    def add_user(self, user: str, email: str) -> tuple[dict[str, Any], dict[str, bytes]]:
        """The account's config and the token files `connect` would have left: msal's cache
        (account, id token, refresh token, an access token valid for an hour) and the app
        settings. The refresh and access tokens are bound to `user` here."""
        oid = str(uuid.uuid4())
        access, refresh = "at-" + secrets.token_hex(12), "rt-" + secrets.token_hex(12)
        cache = msal.SerializableTokenCache()
        cache.add({
            "client_id": CLIENT_ID, "scope": GRANTED.split(),
            "token_endpoint": f"{self.base_url}/{TENANT}/oauth2/v2.0/token",
            "response": self._token_response(user, email, oid, access, refresh, GRANTED)})
        with self._lock:
            self.boxes[user] = Mailbox(user, email.lower(), oid)
            self.by_email[email.lower()] = user
            self.access[access] = (user, time.time() + TOKEN_SECONDS)
            self.refresh[refresh] = user
        config: dict[str, Any] = {
            "kind": "microsoft", "name": user, "client_id": CLIENT_ID, "tenant": TENANT,
            "authority_url": self.base_url, "graph_url": self.graph_url}
        ca = self.ca_bundle or _LAST_CA.get("path")
        if ca:
            config["ca_bundle"] = ca
        files = {".msal.json": cache.serialize().encode(),
                 ".msal-app.json": json.dumps({"client_id": CLIENT_ID,
                                               "tenant": TENANT}).encode()}
        return config, files

    def add_meeting(self, user: str, meeting: Meeting) -> None:
        box = self.boxes[user]
        org_name, org_email = meeting.organizer
        mine = org_email.lower() == box.email
        attendees = [{"emailAddress": {"address": a, "name": n}, "type": "required",
                      "status": {"response": "accepted"}} for n, a in meeting.attendees]
        if not mine and all(a.lower() != box.email for _, a in meeting.attendees):
            attendees.append({"emailAddress": {"address": box.email, "name": None},
                              "type": "required", "status": {"response": "accepted"}})
        with self._lock:
            eid = self._id("AAMkEv")
            event = {
                "id": eid, "iCalUId": meeting.uid, "subject": meeting.summary,
                "type": "singleInstance", "showAs": "busy", "isCancelled": False,
                "isAllDay": False, "isOrganizer": mine,
                "organizer": {"emailAddress": {"address": org_email, "name": org_name}},
                "responseStatus": {"response": "organizer" if mine else "accepted"},
                "attendees": attendees,
                "body": {"contentType": "text", "content": meeting.description},
                "_props": {}, "_calendar": None,
            }
            self._times(event, meeting.start, meeting.end)
            self._touch(event)
            box.events[eid] = event
        self._changed(box, "events", "created", "meeting", eid)

    def storm(self, users: set[str], until: float) -> None:
        with self._lock:
            for u in users:
                self.boxes[u].storm_until = until

    def revoke(self, users: set[str]) -> None:
        with self._lock:
            for u in users:
                self.boxes[u].revoked = True

    def counts(self) -> dict[str, Any]:
        snap = self.counts_.snapshot()
        snap["batch_items"] = dict(self.batch_items)
        snap["unknown"] = dict(self.unknown)
        snap["notices"] = self.notifier.summary()
        snap["channels"] = len(self.subscriptions)
        return snap

    def user_routes(self, user: str) -> dict[str, int]:
        """The user's requests by route ($batch items included, under their own names)."""
        return dict(self.boxes[user].routes)

    def written(self, user: str) -> dict[str, list[str]]:
        """followup's objects by their idempotency key (the followupKey property): drafts,
        contacts (every key in a card's followupKeys: the creating write and each note added
        to a card) and blocks (events followup created)."""
        box = self.boxes[user]
        with self._lock:
            drafts = [m["_props"].get(KEY_PROPERTY, m["id"]) for m in box.messages.values()
                      if m.get("_ours")]
            contacts = [k for c in box.contacts.values() for k in c["_multi"].get(
                KEYS_PROPERTY, [c["_props"][KEY_PROPERTY]] if KEY_PROPERTY in c["_props"]
                else [])]
            blocks = [e["_props"].get(KEY_PROPERTY, e["id"]) for e in box.events.values()
                      if e.get("_ours")]
        return {"draft": drafts, "contact": contacts, "block": blocks}

    # --- objects ------------------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n:08d}{uuid.uuid4().hex[:8]}"

    @staticmethod
    def _touch(obj: dict[str, Any]) -> None:
        obj["changeKey"] = uuid.uuid4().hex[:16]
        obj["@odata.etag"] = f'W/"{obj["changeKey"]}"'
        obj["lastModifiedDateTime"] = _iso(datetime.now(UTC))
        obj["_version"] = obj.get("_version", 0) + 1

    @staticmethod
    def _times(event: dict[str, Any], start: datetime, end: datetime) -> None:
        event.update(start=_dt(start), end=_dt(end), _start=start.astimezone(UTC),
                     _end=end.astimezone(UTC))

    def _token_response(self, user: str, email: str, oid: str, access: str, refresh: str,
                        scope: str) -> dict[str, Any]:
        now = int(time.time())
        claims = {"iss": f"{self.base_url}/{TENANT_ID}/v2.0", "sub": f"sub-{oid}",
                  "aud": CLIENT_ID, "exp": now + TOKEN_SECONDS, "iat": now,
                  "preferred_username": email, "oid": oid, "tid": TENANT_ID, "name": user}
        return {"token_type": "Bearer", "scope": scope, "expires_in": TOKEN_SECONDS,
                "access_token": access, "refresh_token": refresh,
                "id_token": f"{_b64({'alg': 'none'})}.{_b64(claims)}.",
                "client_info": _b64({"uid": oid, "utid": TENANT_ID})}

    # --- HTTP -----------------------------------------------------------------------------

    async def _serve(self, request: Request) -> Response:
        self.notifier.bind()
        await asyncio.sleep(self.latency)
        path = request.url.path
        raw = await request.body()
        at = path.find("/v1.0/")
        if at >= 0 and path[at + len("/v1.0"):].startswith("/subscriptions"):
            user, route, (status, payload, headers) = await self._subscriptions(
                request.method, path[at + len("/v1.0"):], raw, dict(request.headers))
        elif at >= 0:
            user, route, (status, payload, headers) = self._graph(
                request.method, path[at + len("/v1.0"):], request.url.query, raw,
                dict(request.headers))
        else:
            user, route, (status, payload, headers) = self._authority(
                request.method, path, raw)
        self.counts_.add(route, user, status)
        if user is not None and user in self.boxes:
            self.boxes[user].routes[route] += 1
        if isinstance(payload, bytes):
            return Response(payload, status, headers, media_type="message/rfc822")
        data = b"" if payload is None else json.dumps(payload).encode()
        return Response(data, status, headers,
                        media_type="application/json" if data else None)

    # --- push: the app, subscriptions, notifications ----------------------------------------

    def add_app(self, tenant: str) -> dict[str, Any]:
        """An app registration with a certificate for `tenant`, consented: the credential
        `followup admin tenant add microsoft` stores (org_microsoft.AppCredential's fields)."""
        _tests_importable()
        from push.fake_graph_push import self_signed_certificate

        pem = self_signed_certificate()
        cert = x509.load_pem_x509_certificate(
            pem[pem.index("-----BEGIN CERTIFICATE-----"):].encode())
        x5t = base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA256())).decode().rstrip("=")
        client_id = str(uuid.uuid4())
        with self._lock:
            self.apps[client_id] = {"tenant": tenant, "x5t": x5t, "key": cert.public_key()}
        return {"tenant_id": TENANT_ID, "client_id": client_id, "certificate_pem": pem,
                "authority_url": self.base_url, "graph_url": self.graph_url,
                "ca_bundle": self.ca_bundle or _LAST_CA.get("path")}

    def _app_token(self, form: dict[str, str]) -> Reply:
        """The client credentials grant: msal's RS256 client assertion, signed with the
        app's certificate key and naming the certificate by its SHA-256 thumbprint."""
        app = self.apps.get(form.get("client_id", ""))
        if app is None:
            return 400, {"error": "unauthorized_client", "error_description":
                         "AADSTS700016: Application not found in the directory."}, {}
        assertion = form.get("client_assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
            if (header.get("x5t#S256") or "").rstrip("=") != app["x5t"]:
                raise jwt.InvalidTokenError("another certificate")
            jwt.decode(assertion, app["key"], algorithms=["RS256", "PS256"],
                       options={"verify_aud": False})
        except jwt.PyJWTError:
            return 401, {"error": "invalid_client", "error_description":
                         "AADSTS700027: Client assertion contains an invalid signature."}, {}
        token = "app-" + secrets.token_hex(16)
        with self._lock:
            self.app_access[token] = (form["client_id"], time.time() + TOKEN_SECONDS)
        return 200, {"token_type": "Bearer", "expires_in": TOKEN_SECONDS - 1,
                     "access_token": token}, {}

    def _caller(self, headers: dict[str, str]) -> tuple[str | None, str | None]:
        """(app client id, delegated user) of the request's token; (None, None) if invalid."""
        token = headers.get("authorization", "").removeprefix("Bearer ")
        now = time.time()
        app = self.app_access.get(token)
        if app is not None and app[1] > now:
            return app[0], None
        found = self.access.get(token)
        if found is not None and found[1] > now and not self.boxes[found[0]].revoked:
            return None, found[0]
        return None, None

    async def _subscriptions(self, method: str, path: str, raw: bytes,
                             headers: dict[str, str]) -> tuple[str | None, str, Reply]:
        app, delegated = self._caller(headers)
        if app is None and delegated is None:
            return None, "subscriptions.unauthorized", _error(
                401, "InvalidAuthenticationToken", "Access token is empty or invalid")
        body = json.loads(raw) if raw else {}
        if method == "POST" and path == "/subscriptions":
            user, reply = await self._subscribe(body, app, delegated)
            return user, "subscriptions.create", reply
        sid = path.removeprefix("/subscriptions/")
        sub = self.subscriptions.get(sid)
        if sub is None or (app is None and sub["user"] != delegated):
            return delegated, f"subscriptions.{method.lower()}", _error(
                404, "ResourceNotFound", sid)
        if method == "PATCH":
            expires = _graph_time(str(body.get("expirationDateTime", "")))
            if expires > datetime.now(UTC) + _max_lifetime():
                return sub["user"], "subscriptions.update", _error(
                    400, "ExtensionError", "expiration too far in the future")
            sub["expires"] = expires
            return sub["user"], "subscriptions.update", (200, _sub_view(sub), {})
        if method == "DELETE":
            self.subscriptions.pop(sid, None)
            self.subscribed.get((sub["user"], sub["what"]), set()).discard(sid)
            return sub["user"], "subscriptions.delete", (204, None, {})
        return sub["user"], "subscriptions.unknown", _error(405, "MethodNotAllowed", method)

    async def _subscribe(self, body: dict[str, Any], app: str | None,
                         delegated: str | None) -> tuple[str | None, Reply]:
        parts = str(body.get("resource", "")).split("/")
        if parts[:1] == ["me"] and len(parts) == 2 and delegated is not None:
            user: str | None = delegated
        elif parts[:1] == ["users"] and len(parts) == 3 and app is not None:
            user = self.by_email.get(unquote(parts[1]).lower())
            if user is None:
                return None, _error(404, "ErrorInvalidUser", "no such user")
        else:
            return delegated, _error(400, "InvalidRequest", "unsupported resource")
        what = parts[-1]
        if what not in ("events", "messages"):
            return user, _error(400, "InvalidRequest", "unsupported resource")
        expires = _graph_time(str(body.get("expirationDateTime", "")))
        if expires > datetime.now(UTC) + _max_lifetime():
            return user, _error(400, "ExtensionError", "Subscription expiration can only be "
                                f"{SUBSCRIPTION_MAX_MINUTES} minutes in the future.")
        state = body.get("clientState")
        if state is not None and len(str(state)) > 128:
            return user, _error(400, "InvalidRequest", "clientState > 128 characters")
        urls = [str(body.get("notificationUrl", ""))]
        if body.get("lifecycleNotificationUrl"):
            urls.append(str(body["lifecycleNotificationUrl"]))
        for url in urls:  # the handshake, before the subscription exists
            if url.startswith("http") and not await self.notifier.validate(url):
                return user, _error(400, "ValidationError", "Subscription validation request "
                                    "failed. Response must exactly match validationToken "
                                    "query parameter.")
        sid = str(uuid.uuid4())
        assert user is not None
        sub = {"id": sid, "user": user, "what": what, "resource": body["resource"],
               "changeType": body.get("changeType"), "notificationUrl": urls[0],
               "lifecycleNotificationUrl": body.get("lifecycleNotificationUrl"),
               "clientState": state, "expires": expires}
        self.subscriptions[sid] = sub
        self.subscribed.setdefault((user, what), set()).add(sid)
        return user, (201, _sub_view(sub), {})

    def _watched(self, box: Mailbox, name: str, groups: tuple[str, ...]) -> bool:
        """Does the route about to run change what an events or messages subscription
        watches? Events: those of the default calendar only (a subscription on a user's
        events is one on their default calendar)."""
        if name not in _NOTIFYING or not self.subscribed:
            return False
        if name == "events.create":
            return not groups  # /me/events, not /me/calendars/{id}/events
        if name == "events.delete":
            return box.events.get(groups[0], {}).get("_calendar") is None
        return True

    def _changed(self, box: Mailbox, what: str, change: str, cause: str, oid: str) -> None:
        """Notify every live subscription on the user's `what` that `oid` changed."""
        now = datetime.now(UTC)
        for sid in list(self.subscribed.get((box.user, what), ())):
            sub = self.subscriptions.get(sid)
            if sub is None or sub["expires"] <= now or change not in str(sub["changeType"]):
                continue
            resource = f"Users/{box.oid}/{what.capitalize()}/{oid}"
            self.notifier.post(sub["notificationUrl"], user=box.user, kind=f"graph_{what}",
                               cause=cause, json={"value": [{
                                   "subscriptionId": sid, "clientState": sub["clientState"],
                                   "changeType": change, "resource": resource,
                                   "subscriptionExpirationDateTime": _iso(sub["expires"]),
                                   "tenantId": TENANT_ID, "resourceData": {
                                       "@odata.type": f"#Microsoft.Graph.{what[:-1].title()}",
                                       "id": oid}}]})

    # --- the authority ------------------------------------------------------------------------

    def _authority(self, method: str, path: str, raw: bytes) -> tuple[str | None, str, Reply]:
        parts = path.strip("/").split("/")
        if method == "GET" and parts[-3:] == ["v2.0", ".well-known", "openid-configuration"]:
            base = f"{self.base_url}/{parts[-4]}"
            return None, "authority.openid", (200, {
                "issuer": f"{self.base_url}/{TENANT_ID}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token"],
                "tenant_region_scope": None}, {})
        if method == "GET" and parts[-2:] == ["discovery", "instance"]:
            host = urlsplit(self.base_url).netloc
            return None, "authority.instance", (200, {
                "tenant_discovery_endpoint":
                    f"{self.base_url}/{TENANT}/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [{"preferred_network": host, "preferred_cache": host,
                              "aliases": [host]}]}, {})
        if method == "POST" and parts[-3:] == ["oauth2", "v2.0", "token"]:
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            return self._token(form)
        self.unknown[f"{method} {path}"] += 1
        return None, "authority.unknown", _error(404, "not_found", path)

    def _token(self, form: dict[str, str]) -> tuple[str | None, str, Reply]:
        if form.get("grant_type") == "client_credentials":
            return None, "authority.app_token", self._app_token(form)
        if form.get("grant_type") != "refresh_token":
            return None, "authority.token", (400, {"error": "unsupported_grant_type"}, {})
        with self._lock:
            user = self.refresh.get(form.get("refresh_token", ""))
            box = self.boxes.get(user) if user else None
            if box is None or box.revoked:
                return user, "authority.token", (400, {
                    "error": "invalid_grant",
                    "error_description": "AADSTS70000: the grant was revoked"}, {})
            access, refresh = "at-" + secrets.token_hex(12), "rt-" + secrets.token_hex(12)
            self.access[access] = (box.user, time.time() + TOKEN_SECONDS)
            # The old refresh token stays good (as in Entra ID until it expires): a worker
            # killed before it stored the new cache comes back with the old one.
            self.refresh[refresh] = box.user
        return box.user, "authority.token", (200, self._token_response(
            box.user, box.email, box.oid, access, refresh, form.get("scope") or GRANTED), {})

    # --- Graph ----------------------------------------------------------------------------

    def _graph(self, method: str, path: str, query: str, raw: bytes,
               headers: dict[str, str]) -> tuple[str | None, str, Reply]:
        token = headers.get("authorization", "").removeprefix("Bearer ")
        found = self.access.get(token)
        box = self.boxes.get(found[0]) if found else None
        if found is None or box is None or box.revoked or found[1] < time.time():
            return (box.user if box else None), "graph.unauthorized", _error(
                401, "InvalidAuthenticationToken", "Access token is empty or invalid")
        wait = box.storm_until - time.monotonic()
        if wait > 0:
            return box.user, "graph.throttled", (429, {"error": {
                "code": "TooManyRequests", "message": "Please retry later"}},
                {"Retry-After": str(max(1, math.ceil(wait)))})
        q = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        body = json.loads(raw) if raw else None
        name, reply = self._route(box, method, path, q, body, headers.get("prefer", ""),
                                  headers.get("if-match"))
        return box.user, name, reply

    def _route(self, box: Mailbox, method: str, path: str, q: dict[str, str], body: Any,
               prefer: str, if_match: str | None) -> tuple[str, Reply]:
        if method == "POST" and path == "/$batch":
            return "$batch", self._batch(box, body)
        for route_method, pattern, name, fn in self._table:
            m = pattern.fullmatch(path)
            if m and route_method == method:
                with self._lock:
                    watched = self._watched(box, name, m.groups())
                    reply = fn(self, box, q, body, prefer, if_match, *m.groups())
                if reply[0] < 300 and watched:
                    what, change = _NOTIFYING[name]
                    made = reply[1].get("id") if isinstance(reply[1], dict) else m.group(1)
                    self._changed(box, what, change, "echo", str(made))
                return name, reply
        self.unknown[f"{method} {path}"] += 1
        return "unknown", _error(404, "ResourceNotFound", path)

    def _batch(self, box: Mailbox, body: Any) -> Reply:
        requests = (body or {}).get("requests", [])
        if len(requests) > BATCH_LIMIT:
            return _error(400, "BadRequest", f"over {BATCH_LIMIT} requests")
        answers = []
        for r in requests:
            split = urlsplit(r["url"])
            q = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
            h = {k.lower(): v for k, v in (r.get("headers") or {}).items()}
            name, (status, payload, headers) = self._route(
                box, r["method"], split.path, q, r.get("body"), h.get("prefer", ""),
                h.get("if-match"))
            self.batch_items[name] += 1
            box.routes[name] += 1
            answers.append({"id": r["id"], "status": status, "headers": headers,
                            "body": payload})
        answers.reverse()  # Graph does not keep the order; followup must match by id
        return 200, {"responses": answers}, {}

    # --- rendering and paging -------------------------------------------------------------

    @staticmethod
    def _render(obj: dict[str, Any], q: dict[str, str]) -> dict[str, Any]:
        select = {s.strip() for s in q.get("$select", "").split(",") if s.strip()}
        out = {k: v for k, v in obj.items() if not k.startswith("_")
               and (not select or k in select or k == "id" or k.startswith("@"))}
        expand = q.get("$expand", "")
        if "singleValueExtendedProperties" in expand:
            out["singleValueExtendedProperties"] = [
                {"id": k, "value": v} for k, v in obj.get("_props", {}).items()]
        if "multiValueExtendedProperties" in expand:
            out["multiValueExtendedProperties"] = [
                {"id": k, "value": list(v)} for k, v in obj.get("_multi", {}).items()]
        if "eventMessage/event" in expand:
            out["event"] = None
        return out

    def _page(self, items: list[dict[str, Any]], q: dict[str, str], base: str) -> Reply:
        top = int(q.get("$top", "10"))
        skip = int(q.get("$skip", "0"))
        body: dict[str, Any] = {"value": [self._render(i, q) for i in items[skip:skip + top]]}
        if skip + top < len(items):
            rest = {k: v for k, v in q.items() if k != "$skip"}
            rest["$skip"] = str(skip + top)
            body["@odata.nextLink"] = (self.graph_url + base + "?"
                                       + urlencode(rest, quote_via=quote, safe="$"))
        return 200, body, {}

    # --- calendar ---------------------------------------------------------------------------

    @staticmethod
    def _in_window(box: Mailbox, start: datetime, end: datetime) -> dict[str, dict[str, Any]]:
        return {i: e for i, e in box.events.items()
                if e["type"] != "seriesMaster" and e["_calendar"] is None
                and e["_start"] < end and e["_end"] > start}

    def _delta(self, box: Mailbox, q: dict[str, str], body: Any, prefer: str,
               if_match: str | None) -> Reply:
        m = _MAXPAGE.search(prefer)
        size = int(m[1]) if m else 100
        if "$skiptoken" in q:
            held = box.skip.pop(q["$skiptoken"], None)
            if held is None:
                return _error(410, "syncStateNotFound", "The sync state was not found.")
            return self._delta_page(box, held[0], held[1], size)
        if "$deltatoken" in q:
            state = box.delta.get(q["$deltatoken"])
            if state is None:
                return _error(410, "syncStateNotFound", "The sync state was not found.")
            start, end, seen = state
            now = self._in_window(box, start, end)
            items = [self._render(e, q) for i, e in now.items()
                     if seen.get(i) != e["_version"]]
            items += [{"id": i, "@removed": {"reason": "deleted"}} for i in seen if i not in now]
        else:
            start = _parse_query_time(q["startDateTime"])
            end = _parse_query_time(q["endDateTime"])
            now = self._in_window(box, start, end)
            items = [self._render(e, q) for e in now.values()]
        token = uuid.uuid4().hex
        box.delta[token] = (start, end, {i: e["_version"] for i, e in now.items()})
        while len(box.delta) > DELTA_TOKENS_KEPT:
            del box.delta[next(iter(box.delta))]
        return self._delta_page(box, items, token, size)

    def _delta_page(self, box: Mailbox, items: list[dict[str, Any]], token: str,
                    size: int) -> Reply:
        page, rest = items[:size], items[size:]
        if rest:
            skip = uuid.uuid4().hex
            box.skip[skip] = (rest, token)
            return 200, {"value": page, "@odata.nextLink":
                         f"{self.graph_url}/me/calendarView/delta?$skiptoken={skip}"}, {}
        return 200, {"value": page, "@odata.deltaLink":
                     f"{self.graph_url}/me/calendarView/delta?$deltatoken={token}"}, {}

    def _calendar_view(self, box: Mailbox, q: dict[str, str], body: Any, prefer: str,
                       if_match: str | None) -> Reply:
        start = _parse_query_time(q["startDateTime"])
        end = _parse_query_time(q["endDateTime"])
        items = sorted(self._in_window(box, start, end).values(), key=lambda e: e["_start"])
        return self._page(items, q, "/me/calendarView")

    def _schedule(self, box: Mailbox, q: dict[str, str], body: Any, prefer: str,
                  if_match: str | None) -> Reply:
        start, end = _parse_dt(body["startTime"]), _parse_dt(body["endTime"])
        items = [{"status": e["showAs"], "start": e["start"], "end": e["end"]}
                 for e in self._in_window(box, start, end).values()
                 if not e["isCancelled"] and e["responseStatus"]["response"] != "declined"]
        return 200, {"value": [{"scheduleId": body["schedules"][0],
                                "scheduleItems": items}]}, {}

    def _calendars(self, box: Mailbox, q: dict[str, str], body: Any, prefer: str,
                   if_match: str | None) -> Reply:
        m = re.fullmatch(r"name eq '(.*)'", q.get("$filter", ""))
        return 200, {"value": [c for c in box.calendars.values()
                               if not m or c["name"] == _odata(m[1])]}, {}

    def _calendar_create(self, box: Mailbox, q: dict[str, str], body: Any, prefer: str,
                         if_match: str | None) -> Reply:
        cid = self._id("AAMkCal")
        box.calendars[cid] = {"id": cid, "name": body["name"]}
        return 201, box.calendars[cid], {}

    @staticmethod
    def _by_prop(store: dict[str, dict[str, Any]], text: str) -> list[dict[str, Any]] | None:
        m = _PROP.fullmatch(text)
        if m is None:
            return None
        prop, value = m[1], _odata(m[2]).lower()
        # The property name is matched exactly, the value without regard to case (Graph).
        return [o for o in store.values()
                if prop in o["_props"] and str(o["_props"][prop]).lower() == value]

    def _events_list(self, box: Mailbox, q: dict[str, str], body: Any, prefer: str,
                     if_match: str | None, calendar: str | None = None) -> Reply:
        f = q.get("$filter", "")
        here = {i: e for i, e in box.events.items() if e["_calendar"] == calendar}
        found = self._by_prop(here, f)
        if found is not None:
            items = found
        elif m := re.fullmatch(r"iCalUId eq '(.*)'", f):
            items = [e for e in here.values() if e["iCalUId"] == _odata(m[1])]
        elif not f:
            items = list(here.values())
        else:
            return _error(400, "ErrorInvalidUrlQueryFilter", f)
        return self._page(items, q, "/me/events" if calendar is None
                          else f"/me/calendars/{calendar}/events")

    def _event_create(self, box: Mailbox, q: dict[str, str], body: Any, prefer: str,
                      if_match: str | None, calendar: str | None = None) -> Reply:
        tid = body.get("transactionId")
        if tid and box.transactions.get(tid) in box.events:
            return 201, self._render(box.events[box.transactions[tid]], q), {}
        eid = self._id("AAMkEv")
        event = {k: v for k, v in body.items() if k != "singleValueExtendedProperties"}
        event.update({
            "id": eid, "iCalUId": f"040000008200E00074C5B7101A82E008{eid}",
            "type": "singleInstance", "isCancelled": False, "isOrganizer": True,
            "isAllDay": False, "attendees": [],
            "organizer": {"emailAddress": {"address": box.email}},
            "responseStatus": {"response": "organizer"}, "_calendar": calendar, "_ours": True,
            "_props": {p["id"]: p["value"]
                       for p in body.get("singleValueExtendedProperties", [])}})
        self._times(event, _parse_dt(body["start"]), _parse_dt(body["end"]))
        self._touch(event)
        box.events[eid] = event
        if tid:
            box.transactions[tid] = eid
        return 201, self._render(event, q), {}

    # --- generic get / delete ---------------------------------------------------------------

    @staticmethod
    def _get(kind: str) -> Callable[..., Reply]:
        def get(self: GraphScale, box: Mailbox, q: dict[str, str], body: Any, prefer: str,
                if_match: str | None, oid: str) -> Reply:
            store: dict[str, dict[str, Any]] = getattr(box, kind)
            if oid not in store:
                return _NOT_FOUND
            return 200, self._render(store[oid], q), {}
        return get

    @staticmethod
    def _delete(kind: str) -> Callable[..., Reply]:
        def delete(self: GraphScale, box: Mailbox, q: dict[str, str], body: Any, prefer: str,
                   if_match: str | None, oid: str) -> Reply:
            store: dict[str, dict[str, Any]] = getattr(box, kind)
            if store.pop(oid, None) is None:
                return _NOT_FOUND
            return 204, None, {}
        return delete

    # --- mail -----------------------------------------------------------------------------

    @staticmethod
    def _messages(folder: str | None) -> Callable[..., Reply]:
        def listing(self: GraphScale, box: Mailbox, q: dict[str, str], body: Any,
                    prefer: str, if_match: str | None) -> Reply:
            items = [m for m in box.messages.values() if folder in (None, m["_folder"])]
            f, search = q.get("$filter", ""), q.get("$search", "")
            if f and search:
                return _error(400, "ErrorInvalidUrlQuery", "$search and $filter cannot combine")
            if "toRecipients" in f:
                return _error(400, "ErrorInvalidUrlQueryFilter", f)
            if search:
                m = re.fullmatch(r'"to:(.+)"', search)
                if not m:
                    return _error(400, "BadRequest", search)
                who = m[1].lower()
                items = [i for i in items if any(
                    r["emailAddress"]["address"].lower() == who
                    for r in i["toRecipients"] + i["ccRecipients"])]
                items.sort(key=lambda i: i["sentDateTime"] or "", reverse=True)
            elif f:
                found = self._by_prop({i["id"]: i for i in items}, f)
                m = re.fullmatch(r"receivedDateTime ge (\S+)(?: and from/emailAddress/address "
                                 r"eq '(.*)')?", f)
                if found is not None:
                    items = found
                elif m:
                    items = [i for i in items if i["receivedDateTime"] >= m[1] and (
                        m[2] is None or i["from"]["emailAddress"]["address"].lower()
                        == _odata(m[2]).lower())]
                else:
                    return _error(400, "ErrorInvalidUrlQueryFilter", f)
            order = q.get("$orderby", "")
            if order.startswith("receivedDateTime"):
                items.sort(key=lambda i: i["receivedDateTime"], reverse=order.endswith("desc"))
            base = "/me/messages" if folder is None else f"/me/mailFolders/{folder}/messages"
            return self._page(items, q, base)
        return listing

    def _message_create(self, box: Mailbox, q: dict[str, str], body: Any, prefer: str,
                        if_match: str | None) -> Reply:
        mid = self._id("AAMkMsg")
        msg = {k: v for k, v in body.items() if k != "singleValueExtendedProperties"}
        web = f"https://outlook.office365.com/owa/?ItemID={quote(mid, safe='')}&exvsurl=1"
        now = _iso(datetime.now(UTC))
        msg.update({
            "id": mid, "isDraft": True, "_folder": "drafts", "_mime": b"", "_ours": True,
            "webLink": web + "&viewmodel=ReadMessageItem", "_attachments": [],
            "ccRecipients": msg.get("ccRecipients") or [], "hasAttachments": False,
            "receivedDateTime": now, "sentDateTime": None, "conversationId": f"conv-{mid}",
            "from": {"emailAddress": {"address": box.email}},
            "toRecipients": msg.get("toRecipients") or [],
            "_props": {p["id"]: p["value"]
                       for p in body.get("singleValueExtendedProperties", [])}})
        msg.setdefault("internetMessageId", f"<{mid}@fake.example>")
        self._touch(msg)
        box.messages[mid] = msg
        return 201, self._render(msg, q), {}

    def _create_reply(self, box: Mailbox, q: dict[str, str], body: Any, prefer: str,
                      if_match: str | None, mid: str) -> Reply:
        original = box.messages.get(mid)
        if original is None:
            return _NOT_FOUND
        sender = original["from"]["emailAddress"]["address"]
        to = original["toRecipients"] if sender == box.email else [
            {"emailAddress": {"address": sender}}]
        status, made, _ = self._message_create(box, q, {
            "subject": f"RE: {original['subject']}", "toRecipients": to,
            "body": {"contentType": "html", "content": "<p>quoted</p>"},
            **((body or {}).get("message") or {})}, prefer, if_match)
        created = box.messages[made["id"]]
        created["conversationId"] = original.get("conversationId")
        return status, self._render(created, q), {}

    def _message_patch(self, box: Mailbox, q: dict[str, str], body: Any, prefer: str,
                       if_match: str | None, mid: str) -> Reply:
        msg = box.messages.get(mid)
        if msg is None:
            return _NOT_FOUND
        if not msg.get("isDraft"):
            return _error(400, "ErrorInvalidRequest", "not a draft")
        msg.update({k: v for k, v in body.items() if k != "singleValueExtendedProperties"})
        msg["_props"].update({p["id"]: p["value"]
                              for p in body.get("singleValueExtendedProperties", [])})
        self._touch(msg)
        return 200, self._render(msg, q), {}

    def _mime(self, box: Mailbox, q: dict[str, str], body: Any, prefer: str,
              if_match: str | None, mid: str) -> Reply:
        if mid not in box.messages:
            return _NOT_FOUND
        return 200, bytes(box.messages[mid]["_mime"]), {}

    def _attachments(self, box: Mailbox, q: dict[str, str], body: Any, prefer: str,
                     if_match: str | None, mid: str) -> Reply:
        if mid not in box.messages:
            return _NOT_FOUND
        return 200, {"value": box.messages[mid]["_attachments"]}, {}

    # --- contacts ---------------------------------------------------------------------------

    def _contacts_list(self, box: Mailbox, q: dict[str, str], body: Any, prefer: str,
                       if_match: str | None) -> Reply:
        f = q.get("$filter", "")
        m = re.fullmatch(r"emailAddresses/any\(a:a/address eq '(.*)'\)", f)
        if f and not m:
            return _error(400, "ErrorInvalidUrlQueryFilter", f)
        items = list(box.contacts.values())
        if m:
            who = _odata(m[1]).lower()
            items = [c for c in items
                     if any(e["address"].lower() == who for e in c["emailAddresses"])]
        return self._page(items, q, "/me/contacts")

    def _contact_create(self, box: Mailbox, q: dict[str, str], body: Any, prefer: str,
                        if_match: str | None) -> Reply:
        cid = self._id("AAMkCt")
        contact = {k: v for k, v in body.items() if not k.endswith("ExtendedProperties")}
        contact.update({"id": cid, "_ours": True,
                        "_multi": {p["id"]: list(p["value"]) for p in
                                   body.get("multiValueExtendedProperties", [])},
                        "_props": {p["id"]: p["value"] for p in
                                   body.get("singleValueExtendedProperties", [])}})
        self._touch(contact)
        box.contacts[cid] = contact
        return 201, self._render(contact, q), {}

    def _contact_patch(self, box: Mailbox, q: dict[str, str], body: Any, prefer: str,
                       if_match: str | None, cid: str) -> Reply:
        contact = box.contacts.get(cid)
        if contact is None:
            return _NOT_FOUND
        if if_match and if_match != contact["@odata.etag"]:
            return _error(412, "ErrorIrresolvableConflict", "changed")
        for k, v in body.items():
            if k == "multiValueExtendedProperties":
                for p in v:
                    contact["_multi"][p["id"]] = list(p["value"])
            else:
                contact[k] = v
        self._touch(contact)
        return 200, self._render(contact, q), {}

    def _me(self, box: Mailbox, q: dict[str, str], body: Any, prefer: str,
            if_match: str | None) -> Reply:
        return 200, {"id": box.oid, "mail": box.email, "userPrincipalName": box.email,
                     "displayName": box.user}, {}

    # (method, path pattern under /v1.0, route name, handler)
    _table: ClassVar[list[tuple[str, re.Pattern[str], str, Callable[..., Reply]]]] = _routes([
            ("GET", r"/me", "me", _me),
            ("GET", r"/me/calendarView/delta", "calendarView.delta", _delta),
            ("GET", r"/me/calendarView", "calendarView", _calendar_view),
            ("POST", r"/me/calendar/getSchedule", "getSchedule", _schedule),
            ("GET", r"/me/calendars", "calendars.list", _calendars),
            ("POST", r"/me/calendars", "calendars.create", _calendar_create),
            ("GET", r"/me/events", "events.list", _events_list),
            ("POST", r"/me/events", "events.create", _event_create),
            ("POST", r"/me/calendars/([^/]+)/events", "events.create", _event_create),
            ("GET", r"/me/calendars/([^/]+)/events", "events.list", _events_list),
            ("GET", r"/me/events/([^/]+)", "events.get", _get("events")),
            ("DELETE", r"/me/events/([^/]+)", "events.delete", _delete("events")),
            ("GET", r"/me/messages", "messages.list", _messages(None)),
            ("GET", r"/me/mailFolders/inbox/messages", "messages.inbox", _messages("inbox")),
            ("GET", r"/me/mailFolders/sentitems/messages", "messages.sent",
             _messages("sentitems")),
            ("POST", r"/me/messages", "messages.create", _message_create),
            ("POST", r"/me/messages/([^/]+)/createReply", "messages.create_reply",
             _create_reply),
            ("PATCH", r"/me/messages/([^/]+)", "messages.patch", _message_patch),
            ("GET", r"/me/messages/([^/]+)/\$value", "messages.mime", _mime),
            ("GET", r"/me/messages/([^/]+)/attachments", "messages.attachments", _attachments),
            ("GET", r"/me/messages/([^/]+)", "messages.get", _get("messages")),
            ("DELETE", r"/me/messages/([^/]+)", "messages.delete", _delete("messages")),
            ("GET", r"/me/contacts", "contacts.list", _contacts_list),
            ("POST", r"/me/contacts", "contacts.create", _contact_create),
            ("GET", r"/me/contacts/([^/]+)", "contacts.get", _get("contacts")),
            ("PATCH", r"/me/contacts/([^/]+)", "contacts.update", _contact_patch),
            ("DELETE", r"/me/contacts/([^/]+)", "contacts.delete", _delete("contacts")),
        ])


def _tests_importable() -> None:
    """tests/ on the path: the push test fakes are test helpers, not a package."""
    tests = str(Path(__file__).resolve().parents[2] / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)


def _max_lifetime() -> timedelta:
    return timedelta(minutes=SUBSCRIPTION_MAX_MINUTES)


def _graph_time(value: str) -> datetime:
    """Graph's UTC times ("2026-11-29T10:00:00.0000000Z"), to the second."""
    return datetime.fromisoformat(value[:19]).replace(tzinfo=UTC)


def _sub_view(sub: dict[str, Any]) -> dict[str, Any]:
    """A subscription as Graph answers it."""
    return {"id": sub["id"], "resource": sub["resource"], "changeType": sub["changeType"],
            "notificationUrl": sub["notificationUrl"], "clientState": sub["clientState"],
            "lifecycleNotificationUrl": sub["lifecycleNotificationUrl"],
            "expirationDateTime": sub["expires"].strftime("%Y-%m-%dT%H:%M:%S.0000000Z")}


# The CA of the last `tls()` call: serve.py calls tls() and make_fake() separately, and the
# account configs must name the CA that signed the certificate being served.
_LAST_CA: dict[str, str] = {}


def tls(directory: Path) -> tuple[Any, Path]:
    """control.py's TLS convention: (server-side ssl.SSLContext, CA bundle file). The
    certificate and key files are in `directory` too (graph_tls.tls_files) for uvicorn's
    ssl_certfile / ssl_keyfile."""
    ctx, ca = _tls(directory)
    _LAST_CA["path"] = str(ca)
    return ctx, ca


def make_fake(base_url: str, *, latency: float = 0.1,
              ca_bundle: str | None = None) -> GraphScale:
    """control.py's factory: the fake to be served at `base_url` (https://127.0.0.1:PORT)."""
    return GraphScale(base_url, latency=latency, ca_bundle=ca_bundle)


def make_graph(base_url: str, latency: float = 0.1, *,
               ca_bundle: str | None = None) -> tuple[Starlette, GraphScale]:
    fake = make_fake(base_url, latency=latency, ca_bundle=ca_bundle)
    return fake.app, fake

"""FakeGraph and FakeAuthority plus what push and app-only access need.

Authority: the client credentials grant with a certificate (client_assertion: an RS256
JWT whose x5t#S256 header names an uploaded certificate and whose signature it verifies;
aud = the token endpoint). The access token is a JWT carrying the `roles` an admin
consented to (none until then), as Entra's are; AADSTS errors for an unknown app or
certificate.

Graph: /subscriptions (POST with the validation handshake on the notification and
lifecycle URLs, an expiration within 10,080 minutes; PATCH to renew; DELETE), sending
change and lifecycle notifications (`notify`, `lifecycle`), /users/{u}/... for app tokens
(403 ErrorAccessDenied when the user is outside the application access policy or the
role is missing), /groups?$filter=mail eq and transitiveMembers. Subscriptions on me/events
and me/messages with a user's delegated token (the authority's refresh or device code
grant; an app token is refused there, and a delegated subscription is renewed or deleted
only with a delegated token); `calls` records each subscription's calls and their tokens.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

import jwt
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from microsoft.authority_fake import FakeAuthority
from microsoft.graph_fake import FakeGraph, Reply

MAX_MINUTES = 10_080
_current = threading.local()


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def self_signed_certificate() -> str:
    """A PEM with a private key and its self-signed certificate (what an admin uploads)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "followup")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=365))
            .sign(key, hashes.SHA256()))
    return (key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode()
            + cert.public_bytes(serialization.Encoding.PEM).decode())


def _cert_of(pem: str) -> x509.Certificate:
    start = pem.index("-----BEGIN CERTIFICATE-----")
    return x509.load_pem_x509_certificate(pem[start:].encode())


class AppAuthority(FakeAuthority):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.apps: dict[str, dict[str, Any]] = {}  # client_id -> {certs: {x5t: key}, roles}
        self.app_tokens: dict[str, set[str]] = {}  # access token -> roles

    def register_app(self, client_id: str, certificate_pem: str,
                     roles: tuple[str, ...] = ()) -> None:
        cert = _cert_of(certificate_pem)
        x5t = base64.urlsafe_b64encode(cert.fingerprint(hashes.SHA256())).decode().rstrip("=")
        self.apps[client_id] = {"certs": {x5t: cert.public_key()}, "roles": set(roles)}

    def consent(self, client_id: str, *roles: str) -> None:
        self.apps[client_id]["roles"] |= set(roles)

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != "client_credentials":
            return super()._token(form)
        with self.lock:
            self.grants.append("client_credentials")
        app = self.apps.get(form.get("client_id", ""))
        if app is None:
            return 400, {"error": "unauthorized_client", "error_description":
                         "AADSTS700016: Application not found in the directory."}
        assertion = form.get("client_assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
            key = app["certs"][(header.get("x5t#S256") or "").rstrip("=")]
            jwt.decode(assertion, key, algorithms=["RS256", "PS256"],
                       audience=f"{self.url}/{self.tenant_id}/oauth2/v2.0/token",
                       options={"verify_aud": False})
        except (KeyError, jwt.PyJWTError):
            return 401, {"error": "invalid_client", "error_description":
                         "AADSTS700027: Client assertion contains an invalid signature."}
        claims: dict[str, Any] = {"aud": "https://graph.microsoft.com", "tid": self.tenant_id,
                                  "appid": form["client_id"], "exp": int(time.time()) + 3600}
        if app["roles"]:
            claims["roles"] = sorted(app["roles"])
        token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.x"
        self.app_tokens[token] = set(app["roles"])
        self.accept_token(token)
        return 200, {"token_type": "Bearer", "expires_in": 3599, "access_token": token}


class FakeGraphPush(FakeGraph):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.authority: AppAuthority | None = None
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.policy: set[str] | None = None  # users an app may reach (None: all)
        self.users: set[str] = {self.me}
        self.groups: dict[str, tuple[str, list[str]]] = {}  # id -> (mail, members)
        self.validation_timeout = 10.0
        self.max_minutes = MAX_MINUTES
        self.clock = lambda: datetime.now(UTC)  # Graph's own time (tests move it)
        # Per subscription, each call made on it and the bearer token it came with:
        # [("create", token), ("update", token), ("delete", token), ...].
        self.calls: dict[str, list[tuple[str, str]]] = {}

    # --- app-only access ---------------------------------------------------------------------

    def _roles(self) -> set[str] | None:
        token = getattr(_current, "token", None)
        if self.authority is None or token not in self.authority.app_tokens:
            return None
        return self.authority.app_tokens[token]

    def _handler(self) -> Any:
        base = super()._handler()

        class Handler(base):  # type: ignore[misc, valid-type]
            def _serve(self, method: str) -> None:
                _current.token = (self.headers.get("Authorization") or "").removeprefix(
                    "Bearer ")
                super()._serve(method)

        return Handler

    def _user(self, user: str, role: str) -> Reply | None:
        user = unquote(user).lower()
        roles = self._roles()
        if roles is None:
            return 403, {"error": {"code": "Authorization_RequestDenied", "message":
                                   "Insufficient privileges to complete the operation."}}, {}
        if user not in self.users:
            return 404, {"error": {"code": "ErrorInvalidUser", "message":
                                   f"The requested user '{user}' is invalid."}}, {}
        if not any(r.startswith(role) for r in roles) or (
                self.policy is not None and user not in self.policy):
            return 403, {"error": {"code": "ErrorAccessDenied", "message":
                                   "Access to OData is disabled: [RAOP] : Blocked by tenant "
                                   "configured AppOnly AccessPolicy settings." if roles else
                                   "Access is denied. Check credentials and try again."}}, {}
        return None

    def _route(self, method: str, path: str, q: dict[str, str], body: Any) -> Reply:
        """/users/{the mailbox}/... with an app token is /me/... (the one mailbox here)."""
        reply = super()._route(method, path, q, body)
        m = re.fullmatch(r"/users/([^/]+)(/.*)?", path)
        if reply[0] != 404 or m is None:
            return reply
        rest = m.group(2) or ""
        role = ("Contacts." if "/contacts" in rest else "Mail." if "/m" in rest[:3] else
                "Calendars.")
        denied = self._user(m.group(1), role)
        if denied is not None:
            return denied
        if unquote(m.group(1)).lower() != self.me:
            return 404, {"error": {"code": "ErrorItemNotFound", "message": path}}, {}
        return super()._route(method, "/me" + rest, q, body)

    def _user_events(self, q: dict[str, str], body: Any, user: str) -> Reply:
        denied = self._user(user, "Calendars.")
        if denied is not None:
            return denied
        return self._events_list(q, body)

    def _user_read(self, role: str) -> Any:
        def read(q: dict[str, str], body: Any, user: str) -> Reply:
            denied = self._user(user, role)
            return denied if denied is not None else (200, {"value": []}, {})
        return read

    def _groups(self, q: dict[str, str], body: Any) -> Reply:
        wanted = q.get("$filter", "").removeprefix("mail eq ").strip("'").lower()
        found = [{"id": gid} for gid, (mail, _) in self.groups.items() if mail == wanted]
        return 200, {"value": found}, {}

    def _members(self, q: dict[str, str], body: Any, gid: str) -> Reply:
        if self._roles() is None or not ({"GroupMember.Read.All", "Group.Read.All"} &
                                         (self._roles() or set())):
            return 403, {"error": {"code": "Authorization_RequestDenied",
                                   "message": "Insufficient privileges."}}, {}
        if gid not in self.groups:
            return 404, {"error": {"code": "Request_ResourceNotFound", "message": gid}}, {}
        return 200, {"value": [{"mail": m, "userPrincipalName": m, "accountEnabled": True}
                               for m in self.groups[gid][1]]}, {}

    def add_group(self, mail: str, members: list[str]) -> str:
        gid = str(uuid.uuid4())
        self.groups[gid] = (mail.lower(), [m.lower() for m in members])
        self.users |= {m.lower() for m in members}
        return gid

    # --- delegated access --------------------------------------------------------------------

    def _token(self) -> str:
        return str(getattr(_current, "token", ""))

    def _delegated(self) -> bool:
        """A user's own token (the authority's refresh or device code grant), not an app's."""
        token = self._token()
        return token in self.tokens and (self.authority is None
                                          or token not in self.authority.app_tokens)

    def _owner_only(self, sid: str, op: str) -> Reply | None:
        """A subscription made with a user's token is managed with that user's tokens only
        (the fake's one mailbox: any delegated token); each call's token is recorded."""
        if self.calls[sid][0][1] not in getattr(self.authority, "app_tokens", {}) and \
                not self._delegated():
            return 403, {"error": {"code": "ExtensionError", "message": (
                "Operation on a delegated subscription needs the user's token.")}}, {}
        self.calls[sid].append((op, self._token()))
        return None

    # --- subscriptions -----------------------------------------------------------------------

    def _validate(self, url: str) -> bool:
        token = "Validation: " + secrets.token_hex(8)
        try:
            r = requests.post(f"{url}?validationToken={quote(token)}", data=b"",
                              headers={"Content-Type": "text/plain; charset=utf-8"},
                              timeout=self.validation_timeout)
        except requests.RequestException:
            return False
        return r.status_code == 200 and r.text == token

    def _subscribe(self, q: dict[str, str], body: Any) -> Reply:
        body = body or {}
        resource = str(body.get("resource", ""))
        parts = resource.split("/")
        if parts[0] == "me" and len(parts) == 2 and parts[1] in ("events", "messages"):
            if not self._delegated():  # Graph: /me needs a signed-in user
                return 400, {"error": {"code": "BadRequest", "message": (
                    "/me request is only valid with delegated authentication flow.")}}, {}
        elif len(parts) != 3 or parts[0] != "users" or parts[2] not in ("events", "messages"):
            return 400, {"error": {"code": "InvalidRequest", "message": "bad resource"}}, {}
        else:
            denied = self._user(parts[1], "Calendars." if parts[2] == "events" else "Mail.")
            if denied is not None:
                return denied
        expires = datetime.fromisoformat(str(body.get("expirationDateTime", ""))[:19] +
                                         "+00:00")
        if expires > self.clock() + timedelta(minutes=self.max_minutes):
            return 400, {"error": {"code": "ExtensionError", "message": (
                f"Subscription expiration can only be {self.max_minutes} minutes in the "
                "future.")}}, {}
        state = body.get("clientState")
        if state is not None and len(str(state)) > 128:
            return 400, {"error": {"code": "InvalidRequest", "message": "clientState > 128"}}, {}
        urls = [body.get("notificationUrl", "")]
        if body.get("lifecycleNotificationUrl"):
            urls.append(body["lifecycleNotificationUrl"])
        for url in urls:
            if str(url).startswith("http") and not self._validate(str(url)):
                return 400, {"error": {"code": "ValidationError", "message": (
                    "Subscription validation request failed. Response must exactly match "
                    "validationToken query parameter.")}}, {}
        sid = str(uuid.uuid4())
        sub = {"id": sid, "resource": resource, "changeType": body.get("changeType"),
               "notificationUrl": urls[0], "lifecycleNotificationUrl":
               body.get("lifecycleNotificationUrl"), "clientState": state,
               "expirationDateTime": expires.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")}
        self.subscriptions[sid] = sub
        self.calls[sid] = [("create", self._token())]
        return 201, dict(sub), {}

    def _sub_patch(self, q: dict[str, str], body: Any, sid: str) -> Reply:
        sub = self.subscriptions.get(sid)
        if sub is None:
            return 404, {"error": {"code": "ResourceNotFound", "message": sid}}, {}
        refused = self._owner_only(sid, "update")
        if refused is not None:
            return refused
        expires = datetime.fromisoformat(str(body["expirationDateTime"])[:19] + "+00:00")
        if expires > self.clock() + timedelta(minutes=self.max_minutes):
            return 400, {"error": {"code": "ExtensionError", "message": "too far"}}, {}
        sub["expirationDateTime"] = expires.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
        return 200, dict(sub), {}

    def _sub_delete(self, q: dict[str, str], body: Any, sid: str) -> Reply:
        refused = self._owner_only(sid, "delete") if sid in self.subscriptions else None
        if refused is not None:
            return refused
        if self.subscriptions.pop(sid, None) is None:
            return 404, {"error": {"code": "ResourceNotFound", "message": sid}}, {}
        return 204, None, {}

    def _table(self) -> list[tuple[str, str, str, Any]]:
        return [
            ("POST", r"/subscriptions", "subscriptions.create", self._subscribe),
            ("PATCH", r"/subscriptions/([^/]+)", "subscriptions.update", self._sub_patch),
            ("DELETE", r"/subscriptions/([^/]+)", "subscriptions.delete", self._sub_delete),
            ("GET", r"/users/([^/]+)/calendar/events", "users.events", self._user_events),
            ("GET", r"/users/([^/]+)/messages", "users.messages", self._user_read("Mail.")),
            ("GET", r"/users/([^/]+)/contacts", "users.contacts",
             self._user_read("Contacts.")),
            ("GET", r"/groups", "groups.list", self._groups),
            ("GET", r"/groups/([^/]+)/transitiveMembers/microsoft\.graph\.user",
             "groups.members", self._members),
            *super()._table(),
        ]

    # --- sending notices ---------------------------------------------------------------------

    def _post(self, url: str, items: list[dict[str, Any]]) -> int:
        try:
            return requests.post(url, json={"value": items}, timeout=5).status_code
        except requests.RequestException:
            return 0

    def notify(self, sid: str, change: str = "updated", *,
               client_state: str | None = None) -> int:
        sub = self.subscriptions[sid]
        return self._post(sub["notificationUrl"], [{
            "subscriptionId": sid, "clientState": client_state if client_state is not None
            else sub["clientState"], "changeType": change, "resource": sub["resource"] + "/x",
            "subscriptionExpirationDateTime": sub["expirationDateTime"],
            "tenantId": "tenant", "resourceData": {"id": "x"}}])

    def lifecycle(self, sid: str, event: str) -> int:
        sub = self.subscriptions[sid]
        if event == "subscriptionRemoved":
            del self.subscriptions[sid]
        return self._post(sub["lifecycleNotificationUrl"] or sub["notificationUrl"], [{
            "subscriptionId": sid, "clientState": sub["clientState"], "lifecycleEvent": event,
            "subscriptionExpirationDateTime": sub["expirationDateTime"],
            "tenantId": "tenant"}])

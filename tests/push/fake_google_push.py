"""FakeGoogle plus what push and organisation-wide connect need.

- Gmail users.watch / users.stop (a watch per mailbox, with its topic and expiration);
- Calendar events.watch channels (id, token, resourceId, expiration; the "sync" ping on
  creation) and channels.stop; `ping_calendar` sends the headers Google sends on a change;
- service accounts: the token endpoint's JWT bearer grant (RS256 assertion checked against
  the key's public half, `sub` must be an active domain user, the scopes must be within the
  client ID's domain-wide delegation, else Google's errors: unauthorized_client /
  invalid_grant);
- Admin SDK Directory: users.list and members.list (nested groups expanded when asked).
"""

from __future__ import annotations

import re
import secrets
import sys
import threading
import time
from pathlib import Path
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# tests/google is no package: its modules import each other by their plain names.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "google"))
from fake_google import HANDLERS, SCOPE_PREFIX, ApiError, FakeGoogle, Grant, Route

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DIRECTORY_SCOPES = frozenset({
    SCOPE_PREFIX + "admin.directory.user.readonly",
    SCOPE_PREFIX + "admin.directory.group.member.readonly",
})


class FakeGooglePush(FakeGoogle):
    def __init__(self, *, user: str = "me@example.com", domain: str = "example.com",
                 watch_ttl: float = 7 * 86400, channel_ttl_cap: float = 30 * 86400) -> None:
        super().__init__(user=user)
        self.domain = domain
        self.now = time.time  # the clock of expirations (a benchmark simulates days)
        self.watch_ttl = watch_ttl
        self.channel_ttl_cap = channel_ttl_cap
        self.watches: dict[str, dict[str, Any]] = {}  # mailbox -> topic, expiration
        self.channels: dict[str, dict[str, Any]] = {}  # channel id -> channel
        self.sa_keys: dict[str, tuple[Any, str]] = {}  # client_email -> (public key, client_id)
        self.dwd: dict[str, set[str]] = {}  # client_id -> delegated scopes
        self.directory: dict[str, dict[str, Any]] = {user: {"primaryEmail": user,
                                                            "suspended": False}}
        self.group_members: dict[str, list[dict[str, str]]] = {}
        self.routes = [
            Route("GET", re.compile(r"^/admin/directory/v1/groups/(?P<groupKey>[^/]+)/members$"),
                  "directory.members.list", DIRECTORY_SCOPES),
            Route("GET", re.compile(r"^/admin/directory/v1/users$"), "directory.users.list",
                  DIRECTORY_SCOPES),
            *self.routes,
        ]

    # --- service accounts -------------------------------------------------------------------

    def service_account_key(self, scopes: list[str] | None = None,
                            name: str = "followup") -> dict[str, Any]:
        """A key as the Cloud console downloads it, its client ID delegated `scopes`."""
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        client_id = str(100000000000000000000 + len(self.sa_keys))
        email = f"{name}@project.iam.gserviceaccount.com"
        self.sa_keys[email] = (private.public_key(), client_id)
        self.dwd[client_id] = set(scopes or [])
        return {"type": "service_account", "project_id": "project",
                "private_key_id": secrets.token_hex(20), "private_key": pem,
                "client_email": email, "client_id": client_id,
                "token_uri": self.base + "/token"}

    def token_endpoint(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != JWT_BEARER:
            return super().token_endpoint(form)
        assertion = form.get("assertion", "")
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
            public, client_id = self.sa_keys[unverified["iss"]]
            # google-auth always names Google's token endpoint as the audience.
            claims = jwt.decode(assertion, public, algorithms=["RS256"], audience=[
                "https://oauth2.googleapis.com/token", self.base + "/token"])
        except (KeyError, jwt.PyJWTError):
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        scopes = claims.get("scope", "").split()
        subject = claims.get("sub")
        if not subject or subject not in self.directory or self.directory[subject]["suspended"]:
            return 400, {"error": "invalid_grant", "error_description": "Invalid email or User ID"}
        if not scopes or not set(scopes) <= self.dwd.get(client_id, set()):
            return 401, {"error": "unauthorized_client", "error_description": (
                "Client is unauthorized to retrieve access tokens using this method, or client "
                "not authorized for any of the scopes requested.")}
        grant = Grant(scopes, client_id)
        body = self._new_access(grant)
        body.pop("scope", None)
        return 200, body

    # --- push -------------------------------------------------------------------------------

    def users_watch(self, body: dict[str, Any]) -> dict[str, Any]:
        topic = body.get("topicName", "")
        if not re.fullmatch(r"projects/[^/]+/topics/[^/]+", topic):
            raise ApiError(400, "invalidArgument", "Invalid topicName")
        expiration = int((self.now() + self.watch_ttl) * 1000)
        self.watches[self.user] = {"topic": topic, "expiration": expiration,
                                   "labelIds": body.get("labelIds")}
        return {"historyId": str(self.history_id), "expiration": str(expiration)}

    def users_stop(self) -> dict[str, Any]:
        self.watches.pop(self.user, None)
        return {}

    def events_watch(self, p: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        cid = self._cal(p["calendarId"])
        if body.get("type") != "web_hook" or not str(body.get("address", "")).startswith("http"):
            raise ApiError(400, "invalidArgument", "Invalid channel")
        if body.get("id") in self.channels:
            raise ApiError(400, "channelIdNotUnique", "Channel id not unique")
        ttl = min(float((body.get("params") or {}).get("ttl", 604800)), self.channel_ttl_cap)
        channel = {"id": body["id"], "resourceId": "res-" + secrets.token_hex(6),
                   "calendar": cid, "address": body["address"], "token": body.get("token"),
                   "expiration": str(int((self.now() + ttl) * 1000)), "number": 0}
        self.channels[body["id"]] = channel
        threading.Thread(target=self._ping, args=(channel, "sync"), daemon=True).start()
        return {"kind": "api#channel", "id": channel["id"], "resourceId": channel["resourceId"],
                "resourceUri": f"{self.base}/calendar/v3/calendars/{cid}/events",
                "token": channel["token"], "expiration": channel["expiration"]}

    def channels_stop(self, body: dict[str, Any]) -> None:
        channel = self.channels.get(body.get("id", ""))
        if channel is None or channel["resourceId"] != body.get("resourceId"):
            raise ApiError(404, "notFound", "Channel not found")
        del self.channels[channel["id"]]

    def _ping(self, channel: dict[str, Any], state: str) -> int:
        channel["number"] += 1
        headers = {"X-Goog-Channel-ID": channel["id"], "X-Goog-Resource-ID":
                   channel["resourceId"], "X-Goog-Resource-State": state,
                   "X-Goog-Message-Number": str(channel["number"]),
                   "X-Goog-Channel-Expiration": channel["expiration"]}
        if channel["token"]:
            headers["X-Goog-Channel-Token"] = channel["token"]
        try:
            return requests.post(channel["address"], headers=headers, timeout=5).status_code
        except requests.RequestException:
            return 0

    def ping_calendar(self, cid: str | None = None) -> list[int]:
        """What Google sends each live channel on `cid` (default primary) after a change."""
        cid = self._cal(cid or "primary")
        now_ms = self.now() * 1000
        live = [c for c in list(self.channels.values())
                if c["calendar"] == cid and float(c["expiration"]) > now_ms]
        return [self._ping(c, "exists") for c in live]

    # --- directory --------------------------------------------------------------------------

    def add_user(self, address: str, *, suspended: bool = False,
                 groups: tuple[str, ...] = ()) -> None:
        self.directory[address] = {"primaryEmail": address, "suspended": suspended}
        for group in groups:
            self.group_members.setdefault(group, []).append(
                {"email": address, "type": "USER", "status": "SUSPENDED" if suspended
                 else "ACTIVE"})

    def members_list(self, p: dict[str, str], q: dict[str, list[str]]) -> dict[str, Any]:
        members = self.group_members.get(p["groupKey"])
        if members is None:
            raise ApiError(404, "notFound", "Resource Not Found: groupKey")
        return {"kind": "admin#directory#members", "members": members}

    def users_list(self, q: dict[str, list[str]]) -> dict[str, Any]:
        return {"users": [u for u in self.directory.values() if not u["suspended"]]}


HANDLERS.update({
    "gmail.users.watch": lambda f, p, q, b: f.users_watch(b),
    "gmail.users.stop": lambda f, p, q, b: f.users_stop(),
    "calendar.events.watch": lambda f, p, q, b: f.events_watch(p, b),
    "calendar.channels.stop": lambda f, p, q, b: f.channels_stop(b),
    "directory.members.list": lambda f, p, q, b: f.members_list(p, q),
    "directory.users.list": lambda f, p, q, b: f.users_list(q),
})

"""A local Microsoft identity platform stand-in that msal talks to for real.

It serves the OIDC metadata msal reads (<authority>/v2.0/.well-known/openid-configuration),
the device code endpoint, and the token endpoint (device_code and refresh_token grants), and
logs every request it gets (instance discovery included: it would answer 404).
Issued access tokens are registered with the fake Graph, which accepts only those.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from .tls import Server, TestCA, quiet

TENANT_ID = "72f988bf-0000-4000-8000-000000000001"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


class FakeAuthority:
    def __init__(self, ca: TestCA, *, accept_token: Any, user: str = "me@contoso.example",
                 tenant_id: str = TENANT_ID) -> None:
        self.user = user
        self.tenant_id = tenant_id
        self.accept_token = accept_token  # callable: register an access token with Graph
        self.lock = threading.Lock()
        self.revoked: set[str] = set()  # refresh tokens answered with invalid_grant
        self.interaction_required = False
        self.expires_in = 3600
        self.grants: list[str] = []  # grant types asked for, in order
        self.refresh_tokens: list[str] = []
        self.access_tokens: list[str] = []
        self.device_scope = ""
        self.log: list[tuple[str, str]] = []  # (method, path) of every HTTP request
        self.server = Server(self._handler(), ca)
        self.url = self.server.url

    def revoke_all(self) -> None:
        with self.lock:
            self.revoked |= set(self.refresh_tokens)

    def _issue(self, client_id: str, scope: str) -> dict[str, Any]:
        oid = "00000000-0000-0000-0000-0000000000aa"
        now = int(time.time())
        claims = {"iss": f"{self.url}/{self.tenant_id}/v2.0", "sub": "sub-1", "aud": client_id,
                  "exp": now + 3600, "iat": now, "preferred_username": self.user,
                  "oid": oid, "tid": self.tenant_id, "name": "Me Myself"}
        access = "at-" + secrets.token_hex(16)
        refresh = "rt-" + secrets.token_hex(16)
        self.access_tokens.append(access)
        self.refresh_tokens.append(refresh)
        self.accept_token(access)
        return {
            "token_type": "Bearer", "scope": scope, "expires_in": self.expires_in,
            "access_token": access, "refresh_token": refresh,
            "id_token": f"{_b64({'alg': 'none'})}.{_b64(claims)}.",
            "client_info": _b64({"uid": oid, "utid": self.tenant_id}),
        }

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = form.get("grant_type", "")
        with self.lock:
            self.grants.append(grant)
            if grant == "refresh_token":
                if form.get("refresh_token") in self.revoked:
                    return 400, {"error": "invalid_grant",
                                 "error_description": "AADSTS70000: token revoked"}
                if self.interaction_required:
                    return 400, {"error": "interaction_required",
                                 "error_description": "AADSTS50076: MFA required"}
            elif grant != "urn:ietf:params:oauth:grant-type:device_code":
                return 400, {"error": "unsupported_grant_type"}
            scope = form.get("scope") or self.device_scope  # AAD answers with what it granted
            return 200, self._issue(form.get("client_id", ""), scope)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        authority = self

        @quiet
        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                authority.log.append(("GET", self.path.split("?")[0]))
                parts = self.path.split("?")[0].strip("/").split("/")
                if parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
                    base = f"{authority.url}/{parts[0]}"
                    self._send(200, {
                        "issuer": f"{authority.url}/{authority.tenant_id}/v2.0",
                        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                        "token_endpoint": f"{base}/oauth2/v2.0/token",
                        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                    })
                else:
                    self._send(404, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                path = self.path.split("?")[0]
                authority.log.append(("POST", path))
                if path.endswith("/oauth2/v2.0/devicecode"):
                    authority.device_scope = form.get("scope", "")
                    self._send(200, {
                        "device_code": "dc-" + secrets.token_hex(8), "user_code": "FAKE-CODE",
                        "verification_uri": "https://microsoft.com/devicelogin",
                        "expires_in": 900, "interval": 1,
                        "message": "To sign in, open https://microsoft.com/devicelogin and "
                                   "enter the code FAKE-CODE.",
                    })
                elif path.endswith("/oauth2/v2.0/token"):
                    self._send(*authority._token(form))
                else:
                    self._send(404, {"error": "not_found"})

        return Handler

    def close(self) -> None:
        self.server.close()

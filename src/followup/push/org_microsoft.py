"""Microsoft 365, organisation-wide: application permissions with a certificate.

One app registration per tenant, granted application permissions (Calendars.ReadWrite,
Mail.ReadWrite, Contacts.ReadWrite) with admin consent, its mailboxes limited to a group
by an Exchange application access policy or RBAC for Applications (docs/company.md).
msal's ConfidentialClientApplication signs a client assertion with the certificate's
private key; the app token (client credentials grant, scope <graph>/.default) is cached
by msal per app: one token per tenant, whatever the number of mailboxes.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
import structlog

from followup.errors import AuthError, FollowupError

log = structlog.get_logger(__name__)

AUTHORITY = "https://login.microsoftonline.com"
GRAPH = "https://graph.microsoft.com/v1.0"
CONSENT_PAGE = ("Microsoft Entra admin center > Identity > Applications > App registrations > "
                "(the app) > API permissions > Grant admin consent")
# What Entra's error codes mean for an administrator.
AADSTS = {
    "AADSTS700016": "the app is not registered in this tenant (wrong client ID or tenant ID)",
    "AADSTS700027": "the certificate is not the one uploaded to the app registration "
                    "(Certificates & secrets)",
    "AADSTS7000215": "the client credential is invalid",
    "AADSTS65001": f"admin consent is missing ({CONSENT_PAGE})",
    "AADSTS90002": "no such tenant",
}


class OrgAccessError(FollowupError):
    """The tenant's grant does not allow what followup needs; says what is missing."""


@dataclass(frozen=True)
class AppCredential:
    tenant_id: str
    client_id: str
    certificate_pem: str  # the private key and the certificate, PEM
    authority_url: str = AUTHORITY
    graph_url: str = GRAPH
    ca_bundle: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AppCredential:
        return cls(**data)


_apps: dict[tuple[str, str, str], Any] = {}
_apps_lock = threading.Lock()


_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z ]+)-----.*?-----END \1-----", re.S)


def _split_pem(pem: str) -> tuple[str, str]:
    blocks = {m.group(1): m.group(0) + "\n" for m in _PEM_BLOCK.finditer(pem)}
    key = next((v for k, v in blocks.items() if k.endswith("PRIVATE KEY")), None)
    cert = blocks.get("CERTIFICATE")
    if key is None or cert is None:
        raise OrgAccessError("the certificate file must hold the private key and the "
                             "certificate, both PEM")
    return key, cert


def confidential_app(cred: AppCredential, *, fresh: bool = False) -> Any:
    """The tenant's msal app, built once per process (its token cache lives in it);
    `fresh`: a new one, whose token shows permissions consented a minute ago."""
    import msal

    from followup.providers.microsoft.graph import PinnedSession

    key = (cred.authority_url, cred.tenant_id, cred.client_id)
    with _apps_lock:
        app = None if fresh else _apps.get(key)
        if app is None:
            private_key, certificate = _split_pem(cred.certificate_pem)
            # No thumbprint: msal computes the certificate's SHA-256 one (x5t#S256).
            # PinnedSession, not msal's `verify`: requests lets REQUESTS_CA_BUNDLE replace
            # a session's verify, and the tenant's own CA bundle would be ignored.
            app = msal.ConfidentialClientApplication(
                cred.client_id, authority=f"{cred.authority_url}/{cred.tenant_id}",
                client_credential={"private_key": private_key, "public_certificate": certificate},
                http_client=PinnedSession(cred.ca_bundle), instance_discovery=False)
            _apps[key] = app
    return app


class AppTokens:
    """The provider's token source for an app-only account: the tenant's app token (one
    per tenant and process, cached by msal) for one mailbox."""

    is_personal = False

    def __init__(self, cred: AppCredential, user: str) -> None:
        self.cred = cred
        self.username = user

    @classmethod
    def from_file(cls, path: Path) -> AppTokens:
        data = json.loads(path.read_text(encoding="utf-8"))
        user = data.pop("user")
        return cls(AppCredential.from_json(data), user)

    def access_token(self, *, force_refresh: bool = False) -> str:
        try:
            return app_token(self.cred, fresh=force_refresh)
        except OrgAccessError as e:
            raise AuthError(f"the tenant's app was refused a token: {e}") from None


def account_credential(cred: AppCredential, user: str) -> dict[str, bytes]:
    """The sealed token file of one app-only account (`<name>.app.json`)."""
    return {".app.json": json.dumps({**cred.to_json(), "user": user}).encode()}


def graph_root(graph_url: str) -> str:
    """The resource of Graph's .default scope: scheme and host of the Graph URL."""
    parts = graph_url.split("/")
    return "/".join(parts[:3])


def app_token(cred: AppCredential, *, fresh: bool = False) -> str:
    result = confidential_app(cred, fresh=fresh).acquire_token_for_client(
        scopes=[graph_root(cred.graph_url) + "/.default"])
    if "access_token" not in result:
        raise OrgAccessError(describe(result))
    return str(result["access_token"])


def describe(result: dict[str, Any]) -> str:
    text = str(result.get("error_description") or result.get("error") or "refused")
    for code, meaning in AADSTS.items():
        if code in text:
            return f"{meaning} ({code})"
    return text.splitlines()[0]


def token_roles(token: str) -> set[str]:
    """The application permissions granted, from the token's `roles` claim (read, not
    verified: only to tell the administrator what is missing)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return set(claims.get("roles", []))
    except (IndexError, ValueError):
        return set()


def session(cred: AppCredential) -> requests.Session:
    s = requests.Session()
    if cred.ca_bundle:
        s.verify = cred.ca_bundle
    return s


def graph_call(cred: AppCredential, method: str, path: str, *, body: Any = None,
               http: requests.Session | None = None) -> requests.Response:
    http = http or session(cred)
    # verify given per request: requests lets $REQUESTS_CA_BUNDLE override a session's.
    return http.request(method, cred.graph_url.rstrip("/") + path, json=body, timeout=30,
                        headers={"Authorization": f"Bearer {app_token(cred)}"},
                        verify=cred.ca_bundle or True)


@dataclass
class AccessReport:
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


# What one read per permission proves: (Graph path under /users/{user}, permission).
_READS = (("/calendar/events?$top=1&$select=id", "Calendars.ReadWrite"),
          ("/messages?$top=1&$select=id", "Mail.ReadWrite"),
          ("/contacts?$top=1&$select=id", "Contacts.ReadWrite"))


def check_access(cred: AppCredential, user: str) -> AccessReport:
    """Reads one user's calendar, mail and contacts with the app token, as followup would;
    says exactly what is missing. A read that works is proof enough (RBAC for Applications
    grants in Exchange, not in the token's roles); a refused one is explained with the
    token's roles: a permission without admin consent, or the user outside the scope."""
    try:
        token = app_token(cred, fresh=True)
    except OrgAccessError as e:
        return AccessReport([f"no app token: {e}"])
    except (requests.RequestException, ValueError) as e:  # msal: unreachable, bad metadata
        return AccessReport([f"cannot reach the authority {cred.authority_url}: "
                             f"{type(e).__name__}"])
    roles = token_roles(token)
    problems: list[str] = []
    unconsented: list[str] = []
    for path, permission in _READS:
        try:
            r = graph_call(cred, "GET", f"/users/{quote(user)}{path}")
        except requests.RequestException as e:
            return AccessReport([*problems, f"cannot reach Graph at {cred.graph_url}: "
                                 f"{type(e).__name__}"])
        if r.status_code == 404:
            return AccessReport([f"{user}: no such user or no Exchange Online mailbox: "
                                 f"{_graph_error(r)}"])
        if r.status_code == 403 and permission not in roles:
            unconsented.append(permission)
        elif r.status_code == 403:
            problems.append(f"{user} is outside the app's mailbox scope for {permission} "
                            "(Exchange application access policy or RBAC for Applications: "
                            f"add the user to the group): {_graph_error(r)}")
        elif r.status_code >= 400:
            problems.append(f"reading {user}'s {permission.split('.')[0].lower()} failed: "
                            f"{_graph_error(r)}")
    if unconsented:
        problems.insert(0, f"application permissions without admin consent: "
                        f"{', '.join(unconsented)} ({CONSENT_PAGE}), or no RBAC for "
                        "Applications assignment for them")
    return AccessReport(problems)


def group_members(cred: AppCredential, group: str) -> list[str]:
    """A group's (transitive) user members' addresses; `group` is its mail or object id."""
    http = session(cred)
    gid = group
    if "@" in group:
        r = graph_call(cred, "GET", "/groups?$filter=" + quote(f"mail eq '{group}'") +
                       "&$select=id", http=http)
        found = r.json().get("value", []) if r.ok else []
        if not found:
            raise OrgAccessError(f"no group with address {group} ({_graph_error(r)})")
        gid = found[0]["id"]
    path: str | None = (f"/groups/{gid}/transitiveMembers/microsoft.graph.user"
                        "?$select=mail,userPrincipalName,accountEnabled")
    out: list[str] = []
    while path:
        r = graph_call(cred, "GET", path, http=http)
        if not r.ok:
            raise OrgAccessError(f"listing {group} failed: {_graph_error(r)} (the app needs "
                                 "GroupMember.Read.All with admin consent)")
        data = r.json()
        out += [(u.get("mail") or u["userPrincipalName"]).lower() for u in data.get("value", [])
                if u.get("accountEnabled", True) and (u.get("mail") or u.get("userPrincipalName"))]
        link = data.get("@odata.nextLink")
        path = link[len(cred.graph_url.rstrip("/")):] if link else None
    return sorted(set(out))


def _graph_error(r: requests.Response) -> str:
    try:
        err = r.json()["error"]
        return f"{r.status_code} {err.get('code')}: {err.get('message')}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {r.status_code}"

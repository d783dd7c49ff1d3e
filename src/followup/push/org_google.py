"""Google Workspace, organisation-wide: a service account with domain-wide delegation.

The tenant's administrator authorises the service account's client ID for exactly the
scopes a followup account uses (providers.google.scopes, as narrow as a personal grant)
plus two read-only Directory scopes for listing users. Each account then impersonates its
user: google.oauth2.service_account.Credentials(..., subject=user) signs a JWT and trades
it at the token endpoint (JWT bearer grant); no user ever runs an OAuth flow.

An account's sealed credential is the key document plus {"subject": user}: the Google
provider builds delegated credentials from it (providers.google.credentials).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from followup.config import GoogleAccount
from followup.errors import FollowupError

log = structlog.get_logger(__name__)

DIRECTORY_SCOPES = (
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.member.readonly",
)
DIRECTORY_URL = "https://admin.googleapis.com/"
_KEY_FIELDS = ("type", "client_email", "client_id", "private_key", "token_uri")
DWD_PAGE = ("Google Admin console > Security > Access and data control > API controls > "
            "Manage Domain Wide Delegation")


class OrgAccessError(FollowupError):
    """The organisation's grant does not allow what followup needs; says what is missing."""


def load_key(text: str) -> dict[str, Any]:
    try:
        info = json.loads(text)
    except ValueError:
        raise OrgAccessError("the service account key is not JSON (download it as JSON from "
                             "the Cloud console: IAM & Admin > Service accounts > Keys)") from None
    missing = [k for k in _KEY_FIELDS if not info.get(k)]
    if info.get("type") != "service_account" or missing:
        raise OrgAccessError("not a service account key" + (
            f" (missing {', '.join(missing)})" if missing else ""))
    return dict(info)


def delegated_credentials(info: dict[str, Any], subject: str, scopes: Sequence[str]) -> Any:
    from google.oauth2 import service_account

    key = {k: v for k, v in info.items() if k != "subject"}
    return service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
        key, scopes=list(scopes), subject=subject)


def account_credential(info: dict[str, Any], subject: str) -> dict[str, bytes]:
    """The sealed token files of one delegated account (`<name>.json`)."""
    return {".json": json.dumps({**info, "subject": subject}).encode()}


def _refused(info: dict[str, Any], subject: str, scopes: Sequence[str]) -> str | None:
    """None when a token for `scopes` as `subject` is granted, else the error's text."""
    from google.auth.exceptions import RefreshError
    from google.auth.transport.requests import Request

    creds = delegated_credentials(info, subject, scopes)
    try:
        creds.refresh(Request())
    except RefreshError as e:
        return str(e.args[0]) if e.args else "refused"
    return None


@dataclass
class AccessReport:
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_access(info: dict[str, Any], user: str, cfg: GoogleAccount, *,
                 admin: str | None = None, directory_url: str = DIRECTORY_URL) -> AccessReport:
    """Reads one user's calendar as followup would; says exactly what is missing."""
    from followup.providers.google.scopes import scopes_for

    problems: list[str] = []
    scopes = list(scopes_for(cfg))
    error = _refused(info, user, scopes)
    if error is not None and ("Invalid email" in error or "User ID" in error):
        problems.append(f"{user}: no such active user in the Workspace domain ({error})")
        return AccessReport(problems)
    if error is not None:
        missing = [s for s in scopes if _refused(info, user, [s]) is not None]
        problems.append(
            f"domain-wide delegation for client ID {info['client_id']} lacks "
            f"{', '.join(missing) or 'the scopes'}: add them in {DWD_PAGE}")
        return AccessReport(problems)
    try:
        read_one_event(info, user, cfg)
    except Exception as e:  # what Google said, in its words
        problems.append(f"reading {user}'s calendar failed: {_api_error(e)}")
    if admin and _refused(info, admin, list(DIRECTORY_SCOPES)) is not None:
        missing = [s for s in DIRECTORY_SCOPES if _refused(info, admin, [s]) is not None]
        problems.append(f"listing users as {admin} is refused: delegation lacks "
                        f"{', '.join(missing)} ({DWD_PAGE}), or {admin} is no admin")
    return AccessReport(problems)


def _http(info: dict[str, Any], subject: str, scopes: Sequence[str]) -> Any:
    from followup.providers.google.transport import SessionHttp

    return SessionHttp.for_credentials(delegated_credentials(info, subject, scopes),
                                       timeout=30.0)


def read_one_event(info: dict[str, Any], user: str, cfg: GoogleAccount) -> None:
    from followup.providers.google.scopes import scopes_for
    from followup.providers.google.services import service

    calendar = service("calendar", "v3", cfg.calendar_url)
    calendar.events().list(calendarId="primary", maxResults=1).execute(
        http=_http(info, user, scopes_for(cfg)))


def directory_users(info: dict[str, Any], admin: str, *, group: str | None = None,
                    domain: str | None = None, directory_url: str = DIRECTORY_URL) -> list[str]:
    """Active users' primary addresses: a group's members (nested groups expanded) or a
    whole domain's users, read through the Admin SDK Directory API as `admin`."""
    from googleapiclient.discovery import build

    directory = build("admin", "directory_v1", http=_http(info, admin, DIRECTORY_SCOPES),
                      static_discovery=True, cache_discovery=False,
                      client_options={"api_endpoint": directory_url})
    found: list[str] = []
    token: str | None = None
    while True:
        if group:
            page = directory.members().list(groupKey=group, includeDerivedMembership=True,
                                            pageToken=token, maxResults=200).execute()
            found += [m["email"].lower() for m in page.get("members", [])
                      if m.get("type") == "USER" and m.get("status", "ACTIVE") == "ACTIVE"
                      and m.get("email")]
        else:
            page = directory.users().list(domain=domain, customer=None if domain else
                                          "my_customer", query="isSuspended=false",
                                          pageToken=token, maxResults=500).execute()
            found += [u["primaryEmail"].lower() for u in page.get("users", [])
                      if not u.get("suspended") and u.get("primaryEmail")]
        token = page.get("nextPageToken")
        if not token:
            return sorted(set(found))


def _api_error(e: Exception) -> str:
    content = getattr(e, "content", None)
    if content:
        try:
            err = json.loads(content)["error"]
            return f"{err.get('code')} {err.get('message')}"
        except (ValueError, KeyError, TypeError):
            pass
    return f"{type(e).__name__}: {e}"

"""google-auth Credentials from the stored grant, persisted again whenever they refresh.

`Credentials.from_authorized_user_info` always overwrites token_uri with Google's, so the
Credentials are built directly with the configured token_uri (a local test server in tests).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from followup.config import Config, GoogleAccount
from followup.errors import AuthError
from followup.protocols import CredentialInfo
from followup.providers.google._gauth import Credentials
from followup.providers.google.scopes import scopes_for
from followup.providers.google.tokens import (
    NEEDS_RECONNECT,
    OBTAINED_AT,
    REFRESH_EXPIRES_AT,
    TokenStore,
    parse_time,
    token_store,
)

log = structlog.get_logger(__name__)

TESTING_REFRESH_LIFETIME = timedelta(days=7)
EXPIRING_WARNING = timedelta(days=2)
REQUIRED_KEYS = ("refresh_token", "client_id", "client_secret")
# A service account key with a "subject" (push.org_google: organisation-wide connect).
SERVICE_ACCOUNT = "service_account"


def connect_hint(cfg: GoogleAccount) -> str:
    return f"run `followup connect google --account {cfg.name}`"


def build_credentials(info: dict[str, Any], cfg: GoogleAccount) -> Any:
    if info.get("type") == SERVICE_ACCOUNT:  # company mode's domain-wide delegation
        from followup.push.org_google import delegated_credentials

        return delegated_credentials(info, info["subject"], scopes_for(cfg))
    missing = [k for k in REQUIRED_KEYS if not info.get(k)]
    if missing:
        raise AuthError(f"the stored token lacks {', '.join(missing)}: {connect_hint(cfg)}")
    expiry = parse_time(info.get("expiry"))
    return Credentials(
        token=info.get("token"),
        refresh_token=info["refresh_token"],
        token_uri=cfg.token_uri,
        client_id=info["client_id"],
        client_secret=info["client_secret"],
        scopes=info.get("scopes"),
        # google-auth compares expiry with a naive UTC clock.
        expiry=expiry.astimezone(UTC).replace(tzinfo=None) if expiry else None,
    )


class StoredCredentials:
    """The account's Credentials and their store, kept in step."""

    def __init__(self, cfg: GoogleAccount, store: TokenStore, info: dict[str, Any]) -> None:
        self.cfg = cfg
        self.store = store
        self.info = info
        self.credentials = build_credentials(info, cfg)

    @classmethod
    def load(cls, cfg: GoogleAccount, config: Config) -> StoredCredentials:
        store = token_store(cfg, config)
        info = store.load()
        if info is None:
            raise AuthError(f"Google account {cfg.name!r} is not connected: {connect_hint(cfg)}")
        if info.get(NEEDS_RECONNECT):
            raise AuthError(
                f"Google refused the grant of account {cfg.name!r} earlier "
                f"({info[NEEDS_RECONNECT]}): {connect_hint(cfg)}"
            )
        return cls(cfg, store, info)

    def persist(self) -> None:
        """After a refresh: write the new access token (and any rotated refresh token)."""
        if self.info.get("type") == SERVICE_ACCOUNT:
            return  # a delegated token is minted from the key: nothing worth storing
        fresh = json.loads(self.credentials.to_json())
        self.info = {**self.info, **fresh}
        self.store.save(self.info)
        log.info("google.token_refreshed", account=self.cfg.name)

    def mark_refused(self, reason: str) -> None:
        """Google said invalid_grant: remember it so nothing retries until a reconnect."""
        self.info = {**self.info, NEEDS_RECONNECT: reason}
        self.store.save(self.info)
        log.warning(
            "google.needs_reconnect",
            account=self.cfg.name,
            reason=reason,
            what=connect_hint(self.cfg),
        )


def refresh_expiry(
    obtained_at: datetime, cfg: GoogleAccount, expires_in: float | None
) -> datetime | None:
    """When Google will stop honouring a refresh token obtained at `obtained_at`."""
    if expires_in is not None:
        return obtained_at + timedelta(seconds=float(expires_in))
    if cfg.testing_app:
        return obtained_at + TESTING_REFRESH_LIFETIME
    return None


def credential_info(cfg: GoogleAccount, config: Config, now: datetime) -> CredentialInfo:
    """What status/doctor show; reads the store only, no network call."""
    store = token_store(cfg, config)
    try:
        info = store.load()
    except AuthError as e:
        return CredentialInfo(state="needs_reconnect", message=str(e), path=store.location)
    if info is None:
        return CredentialInfo(
            state="missing", message=f"not connected: {connect_hint(cfg)}", path=store.location
        )
    if info.get("type") == SERVICE_ACCOUNT:
        return CredentialInfo(state="ok", message="domain-wide delegation (service account)",
                              path=store.location)
    scopes = tuple(info.get("scopes") or ())
    expires_at = parse_time(info.get("expiry"))
    refresh_at = parse_time(info.get(REFRESH_EXPIRES_AT))
    common: dict[str, Any] = {
        "path": store.location,
        "expires_at": expires_at,
        "refresh_expires_at": refresh_at,
        "scopes": scopes,
    }
    if info.get(NEEDS_RECONNECT) or any(not info.get(k) for k in REQUIRED_KEYS):
        reason = info.get(NEEDS_RECONNECT) or "incomplete token"
        return CredentialInfo(
            state="needs_reconnect", message=f"{reason}: {connect_hint(cfg)}", **common
        )
    missing = sorted(set(scopes_for(cfg)) - set(scopes)) if scopes else []
    if refresh_at is not None and refresh_at <= now:
        return CredentialInfo(
            state="needs_reconnect",
            message=f"the refresh token expired on {refresh_at:%Y-%m-%d %H:%M} UTC (OAuth app in "
            f"Testing status: 7 days): {connect_hint(cfg)}",
            **common,
        )
    if refresh_at is not None and refresh_at - now <= EXPIRING_WARNING:
        return CredentialInfo(
            state="expiring",
            message=f"the refresh token expires on {refresh_at:%Y-%m-%d %H:%M} UTC (OAuth app in "
            f"Testing status): {connect_hint(cfg)} before then, or publish the app",
            **common,
        )
    if missing:
        names = ", ".join(s.rsplit("/", 1)[-1] for s in missing)
        return CredentialInfo(
            state="needs_reconnect",
            message=f"permissions not granted: {names}: {connect_hint(cfg)}",
            **common,
        )
    return CredentialInfo(state="ok", message="connected", **common)


def stamp_new_grant(
    info: dict[str, Any], cfg: GoogleAccount, obtained_at: datetime, expires_in: float | None
) -> dict[str, Any]:
    """Add followup's bookkeeping to a freshly obtained authorized-user document."""
    out = {k: v for k, v in info.items() if k != NEEDS_RECONNECT}
    out[OBTAINED_AT] = obtained_at.astimezone(UTC).isoformat()
    expiry = refresh_expiry(obtained_at, cfg, expires_in)
    if expiry is None:
        out.pop(REFRESH_EXPIRES_AT, None)
    else:
        out[REFRESH_EXPIRES_AT] = expiry.astimezone(UTC).isoformat()
    return out

"""The channel store: what is subscribed where, until when, and how it is going."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.engine import Engine

from followup.push import schema

_MAX_ERROR = 500
KINDS = ("gmail", "calendar", "graph_events", "graph_messages")


def new_secret() -> str:
    """A channel token / clientState: 256 bits, URL-safe (Graph allows 128 characters,
    Google's channel token 256)."""
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(stored_hash: str | None, presented: str | None) -> bool:
    if not stored_hash or presented is None:
        return False
    return hmac.compare_digest(stored_hash, secret_hash(presented))


@dataclass(frozen=True)
class Channel:
    id: str
    account: str
    tenant: str
    kind: str
    resource: str
    resource_id: str | None
    secret_hash: str | None
    expires_at: datetime
    created_at: datetime
    renewed_at: datetime
    failures: int
    last_error: str | None
    notices: int
    forged: int
    last_notice_at: datetime | None

    def lifetime(self) -> timedelta:
        return self.expires_at - self.renewed_at


class ChannelStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, *, id: str, account: str, tenant: str, kind: str, resource: str,
            expires_at: datetime, secret: str | None = None, resource_id: str | None = None,
            now: datetime | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown channel kind {kind!r}")
        now = now or _now()
        c = schema.channels
        with self.engine.begin() as conn:
            conn.execute(c.insert().values(
                id=id, account=account, tenant=tenant, kind=kind, resource=resource,
                resource_id=resource_id, secret_hash=secret_hash(secret) if secret else None,
                expires_at=expires_at, created_at=now, renewed_at=now))

    def get(self, channel_id: str) -> Channel | None:
        c = schema.channels
        with self.engine.begin() as conn:
            row = conn.execute(select(c).where(c.c.id == channel_id)).first()
        return None if row is None else _channel(row)

    def for_account(self, account: str) -> list[Channel]:
        c = schema.channels
        with self.engine.begin() as conn:
            return [_channel(r) for r in conn.execute(
                select(c).where(c.c.account == account).order_by(c.c.kind, c.c.id))]

    def by_resource(self, kind: str, resource: str) -> list[Channel]:
        c = schema.channels
        with self.engine.begin() as conn:
            return [_channel(r) for r in conn.execute(
                select(c).where(c.c.kind == kind, func.lower(c.c.resource) == resource.lower()))]

    def all(self) -> list[Channel]:
        c = schema.channels
        with self.engine.begin() as conn:
            return [_channel(r) for r in conn.execute(select(c).order_by(c.c.account, c.c.id))]

    def renewed(self, channel_id: str, expires_at: datetime, *,
                now: datetime | None = None) -> None:
        self._update(channel_id, expires_at=expires_at, renewed_at=now or _now(), failures=0,
                     last_error=None)

    def failed(self, channel_id: str, error: str) -> int:
        c = schema.channels
        with self.engine.begin() as conn:
            n = conn.scalar(update(c).where(c.c.id == channel_id).values(
                failures=c.c.failures + 1, last_error=error[:_MAX_ERROR]).returning(c.c.failures))
        return int(n or 0)

    def noticed(self, channel_id: str, *, now: datetime | None = None) -> None:
        c = schema.channels
        with self.engine.begin() as conn:
            conn.execute(update(c).where(c.c.id == channel_id).values(
                notices=c.c.notices + 1, last_notice_at=now or _now()))

    def forged(self, channel_id: str) -> None:
        c = schema.channels
        with self.engine.begin() as conn:
            conn.execute(update(c).where(c.c.id == channel_id).values(forged=c.c.forged + 1))

    def remove(self, channel_id: str) -> bool:
        c = schema.channels
        with self.engine.begin() as conn:
            return bool(conn.execute(delete(c).where(c.c.id == channel_id)).rowcount)

    def status(self, *, now: datetime | None = None,
               soon: timedelta = timedelta(hours=1)) -> dict[str, Any]:
        """Counts for `status` and /metrics: channels by kind, expired, expiring within
        `soon`, failing (a renewal failed), and notices refused as forged."""
        now = now or _now()
        c = schema.channels
        with self.engine.begin() as conn:
            row = conn.execute(select(
                func.count(),
                func.count().filter(c.c.expires_at <= now),
                func.count().filter(c.c.expires_at > now, c.c.expires_at <= now + soon),
                func.count().filter(c.c.failures > 0),
                func.coalesce(func.sum(c.c.notices), 0),
                func.coalesce(func.sum(c.c.forged), 0),
            )).one()
            kinds: dict[str, int] = dict(conn.execute(
                select(c.c.kind, func.count()).group_by(c.c.kind)).all())
        view: dict[str, Any] = {
            "push_channels": row[0], "push_channels_expired": row[1],
            "push_channels_expiring": row[2], "push_channels_failing": row[3],
            "push_notices": int(row[4]), "push_notices_forged": int(row[5]),
        }
        for kind in KINDS:
            view[f"push_channels_{kind}"] = int(kinds.get(kind, 0))
        return view

    def _update(self, channel_id: str, **values: Any) -> None:
        c = schema.channels
        with self.engine.begin() as conn:
            conn.execute(update(c).where(c.c.id == channel_id).values(**values))


def push_status(engine: Engine) -> dict[str, Any]:
    """ChannelStore.status for `followup admin status`; nothing when push was never set up."""
    with engine.begin() as conn:
        if conn.scalar(text("SELECT to_regclass('push_channels')")) is None:
            return {}
    return ChannelStore(engine).status()


def _now() -> datetime:
    return datetime.now(UTC)


def _channel(row: Any) -> Channel:
    return Channel(
        id=row.id, account=row.account, tenant=row.tenant, kind=row.kind,
        resource=row.resource, resource_id=row.resource_id, secret_hash=row.secret_hash,
        expires_at=row.expires_at, created_at=row.created_at, renewed_at=row.renewed_at,
        failures=row.failures, last_error=row.last_error, notices=row.notices,
        forged=row.forged, last_notice_at=row.last_notice_at)

"""A tenant's organisation-wide credential, sealed with the company master key."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from followup.company.crypto import MasterKeys, Sealed
from followup.push import schema


@dataclass(frozen=True)
class OrgGrant:
    tenant: str
    provider: str  # google | microsoft
    settings: dict[str, Any]  # domain, admin, pubsub_topic, endpoints...
    secret: dict[str, Any]  # the service account key / the app credential


class OrgStore:
    def __init__(self, engine: Engine, keys: MasterKeys | None = None) -> None:
        self.engine = engine
        self._keys = keys

    def keys(self) -> MasterKeys:
        if self._keys is None:
            self._keys = MasterKeys.from_environment()
        return self._keys

    def save(self, grant: OrgGrant) -> None:
        sealed = self.keys().seal(json.dumps(grant.secret).encode())
        o = schema.org
        row = {"provider": grant.provider, "settings": grant.settings,
               "credential": sealed.ciphertext, "wrapped_key": sealed.wrapped_key,
               "updated_at": datetime.now(UTC)}
        with self.engine.begin() as conn:
            conn.execute(delete(o).where(o.c.tenant == grant.tenant))
            conn.execute(o.insert().values(tenant=grant.tenant, **row))

    def get(self, tenant: str) -> OrgGrant | None:
        o = schema.org
        with self.engine.begin() as conn:
            row = conn.execute(select(o).where(o.c.tenant == tenant)).first()
        if row is None:
            return None
        secret = json.loads(self.keys().open(Sealed(row.credential, row.wrapped_key)))
        return OrgGrant(tenant, row.provider, dict(row.settings), secret)

"""Tenants and accounts in PostgreSQL: validated like the TOML, credentials sealed.

An account's settings are the same pydantic models as an [[accounts]] table of a followup
TOML (config.AccountConfig), and a tenant's settings are a followup config without accounts;
`config_for` joins them (with the account's own [user] on top) into the config.Config the
engine runs with, so company mode and the embedded mode read settings identically.

Credentials are the account's token files, as `followup connect` leaves them in the state
dir's tokens/ folder (Google's authorized-user JSON, Microsoft's msal cache...): kept as
{suffix: bytes} (the file name less the account name), sealed with company.crypto.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Engine

from followup.company import schema
from followup.company.crypto import MasterKeys, Sealed
from followup.config import AccountConfig, Config, ConfigError
from followup.errors import FollowupError

_ACCOUNT: TypeAdapter[AccountConfig] = TypeAdapter(AccountConfig)
# Keys of a followup config a tenant may set: everything but where this process keeps state.
TENANT_KEYS = ("user", "triage", "schedule", "drafts", "daemon", "templates_dir")
_MAX_ERROR = 2000


class AdminError(FollowupError):
    """An admin request that cannot be done as asked (unknown tenant, duplicate name...)."""


def _problems(e: ValidationError, where: str) -> list[str]:
    return [f"{where}{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()]


def validate_tenant_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """A tenant's settings, checked by the Config model; ConfigError lists every problem."""
    extra = sorted(set(settings) - set(TENANT_KEYS))
    if extra:
        raise ConfigError("tenant settings", [f"{k}: not a tenant setting (allowed: "
                                              f"{', '.join(TENANT_KEYS)})" for k in extra])
    try:
        Config.model_validate(settings)
    except ValidationError as e:
        raise ConfigError("tenant settings", _problems(e, "")) from None
    return settings


def validate_account(config: dict[str, Any]) -> AccountConfig:
    """An account's settings, checked by the TOML's own account models."""
    try:
        return _ACCOUNT.validate_python(config)
    except ValidationError as e:
        raise ConfigError(f"account {config.get('name', '?')}", _problems(e, "")) from None


@dataclass(frozen=True)
class AccountRecord:
    name: str
    tenant: str
    kind: str
    enabled: bool
    has_credential: bool
    next_check_at: datetime | None
    next_due_at: datetime | None
    throttled_until: datetime | None
    throttle_reason: str | None
    failures: int
    needs_reconnect: bool
    last_sync: datetime | None
    last_error: str | None
    lease_epoch: int
    lease_owner: str | None
    lease_until: datetime | None


def encode_files(files: dict[str, bytes]) -> bytes:
    return json.dumps({k: base64.b64encode(v).decode("ascii")
                       for k, v in sorted(files.items())}).encode()


def decode_files(blob: bytes) -> dict[str, bytes]:
    data = json.loads(blob)
    return {k: base64.b64decode(v) for k, v in data.items()}


def write_token_files(tokens_dir: Path, account: str, files: dict[str, bytes]) -> None:
    """Unseal an account's credential into a new private tokens/ folder, where the
    provider's own token code reads (and refreshes) it; token_files reads it back."""
    tokens_dir.mkdir(mode=0o700)
    for suffix, content in files.items():
        path = tokens_dir / f"{account}{suffix}"
        path.touch(mode=0o600)  # private before a byte of the secret is in it
        path.write_bytes(content)


def token_files(tokens_dir: Path, account: str) -> dict[str, bytes]:
    """An account's files in a tokens/ folder, by suffix (`alice.json` -> `.json`)."""
    if not tokens_dir.is_dir():
        return {}
    found = {}
    for path in sorted(tokens_dir.iterdir()):
        rest = path.name[len(account):]
        if (path.name.startswith(account) and rest.startswith(".") and path.is_file()
                and not rest.endswith(".tmp")):
            found[rest] = path.read_bytes()
    return found


class AccountStore:
    def __init__(self, engine: Engine, keys: MasterKeys | None = None) -> None:
        self.engine = engine
        self.keys = keys

    # --- tenants ------------------------------------------------------------------------------

    def add_tenant(self, name: str, settings: dict[str, Any]) -> None:
        validate_tenant_settings(settings)
        t = schema.tenants
        with self.engine.begin() as conn:
            if conn.scalar(select(t.c.name).where(t.c.name == name)) is not None:
                raise AdminError(f"tenant {name!r} exists already")
            conn.execute(t.insert().values(name=name, settings=settings, created_at=_now()))

    def tenants(self) -> list[tuple[str, dict[str, Any]]]:
        t = schema.tenants
        with self.engine.begin() as conn:
            return [(r.name, r.settings) for r in conn.execute(select(t).order_by(t.c.name))]

    def tenant_settings(self, name: str) -> dict[str, Any]:
        t = schema.tenants
        with self.engine.begin() as conn:
            found: dict[str, Any] | None = conn.scalar(
                select(t.c.settings).where(t.c.name == name))
        if found is None:
            raise AdminError(f"no tenant {name!r}; `followup admin tenant add {name}` first")
        return found

    # --- accounts -----------------------------------------------------------------------------

    def add_account(self, tenant: str, config: dict[str, Any], *,
                    user: dict[str, Any] | None = None,
                    credential: dict[str, bytes] | None = None) -> AccountConfig:
        account = validate_account(config)
        user = user or {}
        settings = self.tenant_settings(tenant)
        # The person's [user] on top of the tenant's must make a valid config too.
        validate_tenant_settings({**settings, "user": {**settings.get("user", {}), **user}})
        a = schema.accounts
        now = _now()
        row: dict[str, Any] = {
            "name": account.name, "tenant": tenant, "kind": account.kind,
            "config": account.model_dump(mode="json"), "user_settings": user, "enabled": True,
            "created_at": now, "updated_at": now, "next_check_at": now,
        }
        if credential:
            sealed = self._keys().seal(encode_files(credential))
            row.update(credential=sealed.ciphertext, wrapped_key=sealed.wrapped_key)
        with self.engine.begin() as conn:
            if conn.scalar(select(a.c.name).where(a.c.name == account.name)) is not None:
                raise AdminError(f"account {account.name!r} exists already (names are unique "
                                 "across tenants: they key the ledger)")
            conn.execute(a.insert().values(**row))
        return account

    def set_enabled(self, name: str, enabled: bool) -> None:
        self._update(name, enabled=enabled, next_check_at=_now() if enabled else None)

    def remove(self, name: str) -> None:
        a = schema.accounts
        with self.engine.begin() as conn:
            if not conn.execute(delete(a).where(a.c.name == name)).rowcount:
                raise AdminError(f"no account {name!r}")

    def get(self, name: str) -> AccountRecord | None:
        a = schema.accounts
        with self.engine.begin() as conn:
            row = conn.execute(select(a).where(a.c.name == name)).first()
        return None if row is None else _record(row)

    def accounts(self, tenant: str | None = None) -> list[AccountRecord]:
        a = schema.accounts
        query = select(a).order_by(a.c.tenant, a.c.name)
        if tenant is not None:
            query = query.where(a.c.tenant == tenant)
        with self.engine.begin() as conn:
            return [_record(r) for r in conn.execute(query)]

    def config_for(self, name: str, *, ledger_url: str, state_dir: Path) -> tuple[
            Config, AccountConfig]:
        """The engine's Config for one account, its state (token files) in `state_dir`."""
        a, t = schema.accounts, schema.tenants
        with self.engine.begin() as conn:
            row = conn.execute(
                select(a.c.config, a.c.user_settings, t.c.settings)
                .join(t, t.c.name == a.c.tenant).where(a.c.name == name)).first()
        if row is None:
            raise AdminError(f"no account {name!r}")
        settings = dict(row.settings)
        settings["user"] = {**settings.get("user", {}), **row.user_settings}
        account = validate_account(row.config)
        config = Config.model_validate({
            **settings, "accounts": [row.config], "ledger": {"url": ledger_url},
            "state_dir": str(state_dir),
        })
        return config, account

    # --- credentials --------------------------------------------------------------------------

    def credential(self, name: str) -> dict[str, bytes]:
        a = schema.accounts
        with self.engine.begin() as conn:
            row = conn.execute(select(a.c.credential, a.c.wrapped_key)
                               .where(a.c.name == name)).first()
        if row is None or row.credential is None:
            return {}
        return decode_files(self._keys().open(Sealed(row.credential, row.wrapped_key)))

    def store_credential(self, name: str, files: dict[str, bytes]) -> None:
        sealed = self._keys().seal(encode_files(files))
        self._update(name, credential=sealed.ciphertext, wrapped_key=sealed.wrapped_key)

    def rotate_keys(self) -> int:
        """Re-wrap every data key with the current master key; returns how many."""
        a = schema.accounts
        keys = self._keys()
        done = 0
        with self.engine.begin() as conn:
            rows = conn.execute(select(a.c.name, a.c.wrapped_key)
                                .where(a.c.wrapped_key.is_not(None)).with_for_update()).all()
            for name, wrapped in rows:
                conn.execute(update(a).where(a.c.name == name)
                             .values(wrapped_key=keys.rewrap(wrapped)))
                done += 1
        return done

    def _keys(self) -> MasterKeys:
        if self.keys is None:
            self.keys = MasterKeys.from_environment()
        return self.keys

    # --- status -------------------------------------------------------------------------------

    def record_sync(self, name: str, *, finished: datetime, next_due: datetime | None,
                    next_check: datetime) -> None:
        self._update(name, last_sync=finished, last_error=None, failures=0,
                     needs_reconnect=False, next_due_at=next_due, next_check_at=next_check,
                     throttled_until=None, throttle_reason=None)

    def record_failure(self, name: str, error: str, *, next_check: datetime,
                       needs_reconnect: bool = False, throttled: bool = False) -> int:
        """Count a failed sync; returns the failures in a row, this one included."""
        a = schema.accounts
        values: dict[str, Any] = {
            "last_error": error[:_MAX_ERROR], "failures": a.c.failures + 1,
            "needs_reconnect": needs_reconnect, "next_check_at": next_check,
            "updated_at": _now(),
        }
        if throttled:
            values.update(throttled_until=next_check, throttle_reason=error[:_MAX_ERROR])
        with self.engine.begin() as conn:
            failures = conn.scalar(update(a).where(a.c.name == name).values(**values)
                                   .returning(a.c.failures))
        return int(failures or 0)

    def throttle(self, name: str, until: datetime, reason: str) -> None:
        self._update(name, throttled_until=until, throttle_reason=reason, next_check_at=until)

    def failures(self, name: str) -> int:
        a = schema.accounts
        with self.engine.begin() as conn:
            return int(conn.scalar(select(a.c.failures).where(a.c.name == name)) or 0)

    def counts(self) -> dict[str, int]:
        a = schema.accounts
        now = _now()
        with self.engine.begin() as conn:
            row = conn.execute(select(
                func.count(),
                func.count().filter(a.c.enabled),
                func.count().filter(a.c.throttled_until > now),
                func.count().filter(a.c.needs_reconnect),
                func.count().filter(a.c.last_error.is_not(None)),
            ).select_from(a)).one()
        return {"accounts": row[0], "enabled": row[1], "throttled": row[2],
                "needs_reconnect": row[3], "failing": row[4]}

    def _update(self, name: str, **values: Any) -> None:
        a = schema.accounts
        with self.engine.begin() as conn:
            if not conn.execute(update(a).where(a.c.name == name)
                                .values(**values, updated_at=_now())).rowcount:
                raise AdminError(f"no account {name!r}")


def _now() -> datetime:
    return datetime.now(UTC)


def _record(row: Any) -> AccountRecord:
    return AccountRecord(
        name=row.name, tenant=row.tenant, kind=row.kind, enabled=row.enabled,
        has_credential=row.credential is not None, next_check_at=row.next_check_at,
        next_due_at=row.next_due_at, throttled_until=row.throttled_until,
        throttle_reason=row.throttle_reason, failures=row.failures,
        needs_reconnect=row.needs_reconnect, last_sync=row.last_sync,
        last_error=row.last_error, lease_epoch=row.lease_epoch, lease_owner=row.lease_owner,
        lease_until=row.lease_until,
    )


def iter_toml_accounts(config: Config) -> Iterator[tuple[AccountConfig, dict[str, bytes]]]:
    """A TOML config's accounts with their token files (`import-toml`)."""
    tokens = config.state_path() / "tokens"
    for account in config.accounts:
        yield account, token_files(tokens, account.name)

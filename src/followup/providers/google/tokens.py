"""Where an account's OAuth grant is kept: a 0600 JSON file, or the OS keyring.

The stored document is google-auth's authorized-user JSON (`Credentials.to_json()`) plus a few
`followup_*` keys: when the refresh token was obtained, when Google will expire it (7 days for
apps in "Testing" status), and whether Google has refused it (so `followup status` can tell
without a network call). Nothing here logs a token.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import structlog

from followup.config import Config, GoogleAccount
from followup.errors import AuthError
from followup.providers import token_path

log = structlog.get_logger(__name__)

KEYRING_SERVICE = "followup"
OBTAINED_AT = "followup_refresh_obtained_at"
REFRESH_EXPIRES_AT = "followup_refresh_expires_at"
NEEDS_RECONNECT = "followup_needs_reconnect"


class TokenStore(Protocol):
    location: str

    def load(self) -> dict[str, Any] | None: ...

    def save(self, info: dict[str, Any]) -> None: ...


class FileTokenStore:
    """<state dir>/tokens/<account>.json; the directory 0700, the file 0600 from birth."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)

    def load(self) -> dict[str, Any] | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as e:
            raise AuthError(f"cannot read the token file {self.path}: {e.strerror}") from None
        return _parse(text, self.location)

    def save(self, info: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path.parent.chmod(0o700)
        # mkstemp creates the file 0600; the rename makes the switch atomic.
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(info, f, indent=2, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            Path(tmp).replace(self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                Path(tmp).unlink()
            raise


class KeyringTokenStore:
    """The OS keyring (Secret Service, Keychain, Credential Locker) via the optional `keyring`."""

    def __init__(self, account: str) -> None:
        self.username = f"google:{account}"
        self.location = f"keyring:{KEYRING_SERVICE}/{self.username}"

    def _keyring(self) -> Any:
        try:  # optional extra: imported only when configured
            return importlib.import_module("keyring")
        except ImportError:
            raise AuthError(
                "use_keyring is set but the keyring package is missing: "
                "pip install 'followup[keyring]'"
            ) from None

    def load(self) -> dict[str, Any] | None:
        text = self._keyring().get_password(KEYRING_SERVICE, self.username)
        return None if text is None else _parse(text, self.location)

    def save(self, info: dict[str, Any]) -> None:
        self._keyring().set_password(KEYRING_SERVICE, self.username, json.dumps(info))


def _parse(text: str, where: str) -> dict[str, Any]:
    try:
        info = json.loads(text)
    except ValueError:
        raise AuthError(f"{where} is not valid JSON: reconnect the account") from None
    if not isinstance(info, dict):
        raise AuthError(f"{where} does not hold a token: reconnect the account")
    return info


def token_store(cfg: GoogleAccount, config: Config) -> TokenStore:
    if cfg.use_keyring:
        return KeyringTokenStore(cfg.name)
    return FileTokenStore(token_path(config, cfg.name))


def parse_time(value: object) -> datetime | None:
    """An ISO timestamp as stored (google-auth writes naive UTC with a trailing Z)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)

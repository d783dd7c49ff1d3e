"""Credentials at rest: envelope encryption with `cryptography`'s Fernet.

Each account's credential is encrypted with a data key of its own (a fresh Fernet key);
the data key is stored wrapped (encrypted) by the master key. The master keys come from the
environment (FOLLOWUP_MASTER_KEY) or a file (FOLLOWUP_MASTER_KEY_FILE), one Fernet key per
line or comma-separated, the newest FIRST: MultiFernet encrypts with the first and decrypts
with any, so a new key is added in front, `followup admin rotate-key` re-wraps every data
key with it, and the old key can then be dropped. Rotation touches only the small wrapped
keys, never the credentials themselves.

Nothing here logs a key or a plaintext.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from followup.errors import FollowupError

KEY_ENV = "FOLLOWUP_MASTER_KEY"
KEY_FILE_ENV = "FOLLOWUP_MASTER_KEY_FILE"


class MasterKeyError(FollowupError):
    """No usable master key, or a stored credential that no configured key opens."""


@dataclass(frozen=True)
class Sealed:
    """A credential as stored: the ciphertext and its data key, wrapped by the master key."""

    ciphertext: bytes
    wrapped_key: bytes


def new_master_key() -> str:
    """A new master key, for `followup admin` to print (never stored by followup)."""
    return Fernet.generate_key().decode("ascii")


def _parse_keys(text: str, where: str) -> list[Fernet]:
    parts = [p.strip() for line in text.splitlines() for p in line.split(",")]
    keys = [p for p in parts if p and not p.startswith("#")]
    if not keys:
        raise MasterKeyError(f"{where} holds no key")
    fernets = []
    for i, key in enumerate(keys, 1):
        try:
            fernets.append(Fernet(key.encode("ascii")))
        except (ValueError, UnicodeEncodeError):
            raise MasterKeyError(
                f"key {i} in {where} is not a Fernet key (32 url-safe base64 bytes); "
                "`followup admin new-key` prints one"
            ) from None
    return fernets


class MasterKeys:
    """The configured master keys; the first one is current."""

    def __init__(self, fernets: list[Fernet]) -> None:
        if not fernets:
            raise MasterKeyError("no master key")
        self._multi = MultiFernet(fernets)

    @classmethod
    def from_text(cls, text: str, where: str = "the master key") -> MasterKeys:
        return cls(_parse_keys(text, where))

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> MasterKeys:
        env = os.environ if environ is None else environ
        if env.get(KEY_ENV):
            return cls.from_text(env[KEY_ENV], f"${KEY_ENV}")
        path = env.get(KEY_FILE_ENV)
        if path:
            try:
                text = Path(path).read_text(encoding="ascii")
            except (OSError, UnicodeDecodeError) as e:
                raise MasterKeyError(f"cannot read ${KEY_FILE_ENV} ({path}): {e}") from None
            return cls.from_text(text, path)
        raise MasterKeyError(
            f"no master key: set {KEY_ENV} (or {KEY_FILE_ENV}, a file holding it); "
            "`followup admin new-key` prints a new one"
        )

    def seal(self, plaintext: bytes) -> Sealed:
        data_key = Fernet.generate_key()
        return Sealed(Fernet(data_key).encrypt(plaintext), self._multi.encrypt(data_key))

    def open(self, sealed: Sealed) -> bytes:
        try:
            data_key = self._multi.decrypt(sealed.wrapped_key)
            return Fernet(data_key).decrypt(sealed.ciphertext)
        except InvalidToken:
            raise MasterKeyError(
                "a stored credential cannot be decrypted with the configured master keys "
                "(a key was dropped before `followup admin rotate-key` re-wrapped it?)"
            ) from None

    def rewrap(self, wrapped_key: bytes) -> bytes:
        """The data key wrapped again with the current (first) master key."""
        try:
            return self._multi.rotate(wrapped_key)
        except InvalidToken:
            raise MasterKeyError(
                "a stored data key opens with none of the configured master keys"
            ) from None

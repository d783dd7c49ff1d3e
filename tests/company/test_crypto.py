"""Credentials at rest: sealed with a data key of their own, the key wrapped by the master
key; rotation re-wraps the keys so the old master key can be dropped."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from followup.company.crypto import KEY_ENV, KEY_FILE_ENV, MasterKeyError, MasterKeys

SECRET = b'{"refresh_token": "1//very-secret"}'


def test_a_sealed_credential_opens_with_the_master_key_only() -> None:
    keys = MasterKeys.from_text(Fernet.generate_key().decode())
    sealed = keys.seal(SECRET)
    assert b"very-secret" not in sealed.ciphertext + sealed.wrapped_key
    assert keys.open(sealed) == SECRET
    other = MasterKeys.from_text(Fernet.generate_key().decode())
    with pytest.raises(MasterKeyError, match="cannot be decrypted"):
        other.open(sealed)


def test_rotation_rewraps_so_the_old_key_can_go() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed = MasterKeys.from_text(old).seal(SECRET)
    both = MasterKeys.from_text(f"{new},{old}")  # the newest first
    assert both.open(sealed) == SECRET
    rewrapped = type(sealed)(sealed.ciphertext, both.rewrap(sealed.wrapped_key))
    assert rewrapped.ciphertext == sealed.ciphertext  # only the small key moved
    assert MasterKeys.from_text(new).open(rewrapped) == SECRET
    with pytest.raises(MasterKeyError):
        MasterKeys.from_text(new).open(sealed)


def test_master_keys_come_from_the_environment_or_a_file(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    assert MasterKeys.from_environment({KEY_ENV: key}).open(
        MasterKeys.from_text(key).seal(SECRET)) == SECRET
    path = tmp_path / "master.key"
    path.write_text(f"# rotated 2030-01\n{key}\n")
    assert MasterKeys.from_environment({KEY_FILE_ENV: str(path)}).open(
        MasterKeys.from_text(key).seal(SECRET)) == SECRET
    with pytest.raises(MasterKeyError, match="no master key"):
        MasterKeys.from_environment({})
    with pytest.raises(MasterKeyError, match="not a Fernet key") as e:
        MasterKeys.from_environment({KEY_ENV: "hunter2"})
    assert "hunter2" not in str(e.value)

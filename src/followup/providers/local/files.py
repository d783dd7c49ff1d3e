"""Small file helpers shared by the local provider: atomic writes, fingerprints, stats.

Every file we create is 0600. The address book, drafts and calendar hold personal data, and
the tools that share these folders do the same: vdirsyncer writes its items through
mkstemp (0600), mutt and Dovecot deliver Maildir messages as 0600. A file we change in place
(a contact we annotate) keeps the mode it had.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

NEW_FILE_MODE = 0o600


def fingerprint(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _temp_copy(path: Path, data: bytes, mode: int) -> Path:
    """`data` in a new hidden temporary file beside `path` (same file system), synced."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.chmod(mode)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def atomic_write(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace `path` with `data` in one step: readers see the old file or the new one.

    The temporary file starts with a dot, so vdir and Maildir readers skip it.
    """
    tmp = _temp_copy(path, data, NEW_FILE_MODE if mode is None else mode)
    try:
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def create_exclusive(path: Path, data: bytes) -> bool:
    """Write a new file at `path` atomically; False when a file is already there.

    A hard link refuses to overwrite, so two writers racing for one key cannot both create.
    """
    tmp = _temp_copy(path, data, NEW_FILE_MODE)
    try:
        try:
            path.hardlink_to(tmp)
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links (some FUSE, SMB mounts)
            if path.exists():
                return False
            tmp.replace(path)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def file_mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def read_bytes(path: Path) -> bytes | None:
    """The file's content, or None when it is not there (deleted meanwhile)."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def is_hidden(name: str) -> bool:
    return name.startswith(".")

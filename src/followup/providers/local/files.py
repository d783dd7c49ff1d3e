"""Small file helpers shared by the local provider: atomic writes, fingerprints, stats, and
reading what a folder holds without trusting it.

The folders we read (a vdir, a Maildir, an address book) may hold anything: a symlink to
~/.netrc or /proc/self/environ, a symlink loop, a file we may not read, a 200 MB attachment.
`entry_path` follows a symlink only when it stays inside the configured folder, and
`read_limited` refuses a file over its cap before reading it; both raise InputError with a
reason that names no content, so one bad entry is skipped and its neighbours still count.

Every file we create is 0600. The address book, drafts and calendar hold personal data, and
the tools that share these folders do the same: vdirsyncer writes its items through
mkstemp (0600), mutt and Dovecot deliver Maildir messages as 0600. A file we change in place
(a contact we annotate) keeps the mode it had.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tempfile
from pathlib import Path

from followup.errors import InputError

NEW_FILE_MODE = 0o600
MIB = 1024 * 1024
# Caps on what one entry may bring into memory. Real calendars and mails are far smaller (a
# busy ten-year calendar export is a few MB); the daemon's unit allows 512 MB in all.
MAX_ICS_BYTES = 10 * MIB
MAX_MAIL_BYTES = 25 * MIB
MAX_VCF_BYTES = 10 * MIB  # a card with a large photo


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


def real_root(folder: Path) -> str:
    """The folder as the file system resolves it: a configured folder may itself be a link."""
    return os.path.realpath(folder)


def entry_path(root: str, path: str, *, is_link: bool) -> str:
    """Where to read the entry at `path` (inside the folder whose real path is `root`).

    A symlink is followed only to a target inside the folder; a link out of it, a loop or a
    dangling link raises InputError saying so (the target is not named: it may be a secret).
    """
    if not is_link:
        return path
    try:
        real = os.path.realpath(path, strict=True)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise InputError("a symlink loop; skipped") from None
        if e.errno == errno.ENOENT:
            raise InputError("a symlink to nothing; skipped") from None
        raise InputError(f"a symlink that cannot be followed ({e.strerror}); skipped") from None
    except RuntimeError:  # some Python versions report a loop this way
        raise InputError("a symlink loop; skipped") from None
    if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
        raise InputError("a symlink to outside the folder; not followed")
    return real


def entry_stat(root: str, entry: os.DirEntry[str]) -> tuple[str, os.stat_result]:
    """Where to read a directory entry (see entry_path) and its stat: the listing's own
    stat for a plain entry (no second system call), the target's for a symlink."""
    if not entry.is_symlink():
        return entry.path, entry.stat()
    path = entry_path(root, entry.path, is_link=True)
    return path, Path(path).stat()


def read_limited(path: Path | str, limit: int) -> bytes | None:
    """The content of a regular file of at most `limit` bytes, or None when it is gone.

    The size is checked on the open file before anything is read, and the read stops at
    the cap anyway (the file may grow meanwhile). InputError for anything unreadable.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not block us
    except FileNotFoundError:
        return None
    except OSError as e:
        raise InputError(f"cannot read ({e.strerror or type(e).__name__}); skipped") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise InputError("not a regular file; skipped")
        if st.st_size > limit:
            raise InputError(f"{_size(st.st_size)}, over the {_size(limit)} limit; skipped")
        try:
            data = f.read(limit + 1)
        except OSError as e:
            raise InputError(f"cannot read ({e.strerror or type(e).__name__}); skipped") from None
    if len(data) > limit:
        raise InputError(f"over the {_size(limit)} limit; skipped")
    return data


def _size(n: int) -> str:
    if n % MIB == 0:
        return f"{n // MIB} MB"
    return f"{n / MIB:.1f} MB" if n >= MIB else f"{n} bytes"

"""Maildir folders (Maildir++ layout, as Dovecot, mutt, mbsync and offlineimap keep them).

A message's identity is its unique name: the file name without the ":2,FLAGS" info, which
changes when the message is read or flagged, and without new/ or cur/, which changes when a
client first sees it. Listing costs one directory read and one stat per message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.policy import default as default_policy
from pathlib import Path

from followup.errors import InputError
from followup.providers.local.files import entry_stat, real_root

MAX_HEADER_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Entry:
    key: str  # unique name
    path: Path  # where to read it (a symlink inside the folder resolved)
    ctime_ns: int  # set by the kernel on delivery or rename; tools cannot backdate it
    mtime_ns: int
    size: int
    problem: str | None = None  # why it cannot be read: a symlink out of the folder, a loop


def folder_path(root: Path, folder: str) -> Path:
    """"" is the Maildir root itself (INBOX); ".Sent" and other Maildir++ names lie below."""
    return root / folder if folder else root


def unique_name(file_name: str) -> str:
    for sep in (":2,", "!2,", ";2,"):  # ":" on POSIX; "!" or ";" where ":" is not allowed
        if sep in file_name:
            return file_name.split(sep, 1)[0]
    return file_name


def list_messages(folder: Path) -> list[Entry]:
    """Messages in new/ and cur/. A folder that does not exist holds no messages.

    A symlink is followed only to a file inside the folder; one that leads out of it, loops
    or dangles is listed with its `problem`, so callers skip it with that reason."""
    found: list[Entry] = []
    root = real_root(folder)
    for sub in ("new", "cur"):
        try:
            with os.scandir(folder / sub) as it:
                for e in it:
                    if e.name.startswith("."):
                        continue
                    try:
                        path, st = entry_stat(root, e)
                    except FileNotFoundError:  # moved between listing and stat
                        continue
                    except (InputError, OSError) as err:
                        reason = str(err) if isinstance(err, InputError) else (
                            f"cannot read ({err.strerror}); skipped")
                        found.append(_unusable(e, reason))
                        continue
                    found.append(Entry(unique_name(e.name), Path(path), st.st_ctime_ns,
                                       st.st_mtime_ns, st.st_size))
        except (FileNotFoundError, NotADirectoryError):
            continue
    return found


def _unusable(entry: os.DirEntry[str], reason: str) -> Entry:
    """A listed message that cannot be read, with the times of the link itself."""
    try:
        st = entry.stat(follow_symlinks=False)
        ctime, mtime = st.st_ctime_ns, st.st_mtime_ns
    except OSError:
        ctime = mtime = 0
    return Entry(unique_name(entry.name), Path(entry.path), ctime, mtime, 0, reason)


def is_maildir(folder: Path) -> bool:
    return all((folder / sub).is_dir() for sub in ("cur", "new"))


def ensure_folder(folder: Path, *, subfolder: bool) -> None:
    """Create a Maildir (tmp, new, cur), 0700 like Dovecot; mark a Maildir++ subfolder.
    Callers check first that the Maildir root exists: it is never created by accident."""
    for sub in ("tmp", "new", "cur"):
        (folder / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
    marker = folder / "maildirfolder"
    if subfolder and not marker.exists():
        marker.touch(mode=0o600)


def read_headers(path: Path, *, fast: bool = False) -> Message | None:
    """Only the header block of a message (the body is never read), or None if it is gone.

    `fast` keeps header values as plain strings (the compat32 policy): ten times quicker
    than the structured headers of policy.default, enough for addresses and dates.
    """
    try:
        with open(path, "rb", opener=_nonblocking) as f:
            head = b""
            while len(head) < MAX_HEADER_BYTES:
                chunk = f.read(8192)
                if not chunk:
                    break
                head += chunk
                end = _header_end(head)
                if end >= 0:
                    head = head[:end]
                    break
    except FileNotFoundError:
        return None
    return BytesHeaderParser(policy=compat32 if fast else default_policy).parsebytes(head)


def _nonblocking(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NONBLOCK)  # a FIFO in a mail folder must not hang us


def _header_end(data: bytes) -> int:
    ends = [i for i in (data.find(b"\n\n"), data.find(b"\r\n\r\n")) if i >= 0]
    return min(ends) if ends else -1

"""One daemon per state dir: an exclusive flock on <state dir>/followup.lock.

flock locks go away with the process, so a crash never leaves a stale lock behind; the pid
written into the file is only there to make the message for a second instance helpful.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from followup.errors import FollowupError

LOCK_NAME = "followup.lock"


class LockHeldError(FollowupError):
    """Another process holds the state dir's lock."""

    def __init__(self, path: Path, holder: str) -> None:
        self.path = path
        self.holder = holder
        who = f"pid {holder}" if holder else "another process"
        super().__init__(
            f"another followup ({who}) is already running with the state dir {path.parent}; "
            "stop it first, or give this one its own state_dir"
        )


def ensure_state_dir(state_dir: Path) -> Path:
    """Create the state dir owner-only (0700); an existing one keeps its mode (doctor checks)."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return state_dir


class StateLock:
    """`with StateLock(dir):` holds the lock or raises LockHeldError at once (never waits)."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        ensure_state_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            os.close(fd)
            raise LockHeldError(self.path, holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            # Empty the pid first: the file stays (unlinking would race a new locker).
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StateLock:
        self.acquire()
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

"""The last round's snapshot: how an idle `run --once`, `status` and `plan` answer without
starting the engine.

After a round in which every account's cycle finished cleanly, the daemon (and `run --once`)
writes <state dir>/snapshot.json (service.remember): a digest of the config file, of every
file and folder the cycles read (local accounts only) and of the ledger's files, the
earliest time a cycle has something to do (the cycles' next_due, and at most an hour ahead:
a full cycle still runs at least hourly), and what `run --once`, `status` and `plan` print.

While all of that holds, nothing a cycle reads has changed and nothing is due, so a cycle
would find nothing to do: those commands print what the snapshot says. It is the stat-based
answer of git's index and khal's cache: one stat per file, no parsing, no queries. Anything
else (a changed file, a ledger written by another command, a new followup version, a due
time passed, a URL calendar, a cloud account for `run` and `plan`, a PostgreSQL ledger) runs
the command in full. FOLLOWUP_NO_SNAPSHOT=1 turns it off.

This module imports only the standard library and followup.paths (platformdirs): its point
is to answer before pydantic, SQLAlchemy and the engine are imported (about 1 s of CPU).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import time
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from followup import __version__
from followup.paths import resolve, state_dir

FORMAT = 1
NAME = "snapshot.json"
DISABLE_ENV = "FOLLOWUP_NO_SNAPSHOT"
# A full cycle at least this often, whatever the snapshot says: the safety net.
FULL_CYCLE_EVERY = 3600.0
# A file changed within this long before its stat may change again within the same
# timestamp tick without a new mtime ("racy git"): a snapshot is only written without one.
RACY_SECONDS = 2.0

Watched = Sequence[tuple[str, int]]  # (path, folder levels below it that matter)


def fingerprint(paths: Watched) -> tuple[str, int]:
    """A digest of the names, sizes and mtimes under `paths`, and the newest mtime seen (ns).

    A folder contributes its entries (sorted), each file its size and mtime, and a missing
    or unreadable path says so: adding, removing, renaming or rewriting a file changes it."""
    h = hashlib.blake2b(digest_size=16)
    newest = 0
    for path, depth in paths:
        h.update(b"@ " + os.fsencode(path) + b"\n")
        newest = max(newest, _walk(h, path, depth))
    return h.hexdigest(), newest


def _walk(h: Any, path: str, depth: int) -> int:
    try:
        st = os.stat(path)  # noqa: PTH116 - one stat per file; a Path per entry costs more
    except OSError:
        h.update(b"missing\n")
        return 0
    if not stat.S_ISDIR(st.st_mode):
        h.update(f"{st.st_mtime_ns} {st.st_size}\n".encode())
        return st.st_mtime_ns
    try:
        with os.scandir(path) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        h.update(b"unreadable\n")
        return 0
    newest = 0
    for e in entries:
        name = os.fsencode(e.name)
        try:
            if e.is_dir():
                h.update(b"d " + name + b"\n")
                if depth > 0:
                    newest = max(newest, _walk(h, e.path, depth - 1))
                continue
            est = e.stat()
        except OSError:
            h.update(b"? " + name + b"\n")
            continue
        h.update(b"f " + name + f" {est.st_mtime_ns} {est.st_size}\n".encode())
        newest = max(newest, est.st_mtime_ns)
    return newest


def config_digest(raw: bytes) -> str:
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


def state_dir_of(config_path: Path, raw: bytes) -> Path | None:
    """The state dir the config names (as config.Config.state_path() resolves it), or None
    when the file is not TOML (the full command then says what is wrong)."""
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    configured = data.get("state_dir")
    if configured is not None and not isinstance(configured, str):
        return None
    return state_dir(resolve(config_path.parent.resolve(), configured))


def save(state: Path, snap: dict[str, Any]) -> bool:
    """Write the snapshot (atomically, 0600), unless a watched file changed so recently that a
    later change could keep its mtime (then the next run is a full cycle). True if written."""
    sources = snap.get("sources")
    if sources is not None:
        digest, newest = fingerprint(sources)
        if newest >= time.time_ns() - int(RACY_SECONDS * 1e9):
            forget(state)
            return False
        snap["sources_digest"] = digest
    snap["ledger_digest"] = fingerprint(snap["ledger"])[0]
    snap.update(format=FORMAT, version=__version__)
    tmp = state / f".{NAME}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(snap, f)
    tmp.replace(state / NAME)
    return True


def forget(state: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (state / NAME).unlink()


def holding(config_path: Path, command: str) -> dict[str, Any] | None:
    """The snapshot, if it still answers `command` ("run", "status" or "plan") for this
    config now; else None."""
    if os.environ.get(DISABLE_ENV):
        return None
    try:
        raw = config_path.read_bytes()
    except OSError:
        return None
    state = state_dir_of(config_path, raw)
    if state is None:
        return None
    try:
        snap = json.loads((state / NAME).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(snap, dict) or snap.get("format") != FORMAT \
            or snap.get("version") != __version__ or snap.get("config") != config_digest(raw):
        return None
    answer = {"run": "run_lines", "status": "status_text", "plan": "plan_text"}[command]
    if snap.get(answer) is None or time.time() >= snap["valid_until"]:
        return None
    if command != "status" and (snap.get("sources") is None
                                or fingerprint(snap["sources"])[0] != snap["sources_digest"]):
        return None
    if fingerprint(snap["ledger"])[0] != snap["ledger_digest"]:
        return None
    snap["state_dir"] = str(state)
    return snap


def answer(command: str, config_path: Path, out: TextIO, *, as_json: bool = False) -> bool:
    """Print what `command` would print, from the snapshot; False if it does not hold (the
    caller runs the command in full). `run` also needs the state dir's lock free: a running
    daemon is the full command's error to report."""
    snap = holding(config_path, command)
    if snap is None:
        return False
    if command == "run":
        from followup.service.lock import LockHeldError, StateLock

        try:
            with StateLock(Path(snap["state_dir"])):
                pass
        except (LockHeldError, OSError):
            return False
        out.write("".join(f"{line}\n" for line in snap["run_lines"]))
    elif command == "status":
        if as_json:
            json.dump({"config": str(config_path), **snap["status_json"]}, out, indent=2)
            out.write("\n")
        else:
            out.write(f"config: {config_path}\n{snap['status_text']}")
    else:
        out.write(snap["plan_text"])
    return True

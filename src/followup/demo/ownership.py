"""Which files of a demo workspace are the demo's own, so that a re-run replaces only those.

The marker file lists every file the demo wrote and every file its cycle created, each with
a hash of its content as the demo left it. A re-run removes a listed file only while it
still has that content: a file the user added, and a demo file the user changed, stay.
Maildir messages are matched by their unique name, because a mail client renames a message
when it reads or flags it (new/ -> cur/, ":2,S").
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from followup.providers.local.maildir import unique_name

MARKER = ".followup-demo"
STATE = "state"  # the demo's ledger: always the demo's own
_HEADER = ("# Created by `followup demo`. The files listed below are the demo's own: a new\n"
           "# `followup demo` here replaces them while unchanged and keeps everything else.\n")
_MAILDIR_SUBS = ("new", "cur")


def is_workspace(root: Path) -> bool:
    return (root / MARKER).is_file() and not (root / MARKER).is_symlink()


def snapshot(root: Path) -> dict[str, str]:
    """Every regular file below `root` (not the ledger, not the marker): path -> hash.
    Symlinks are not followed: what they point at is not the workspace's."""
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here == root:
            dirnames[:] = [d for d in dirnames if d != STATE]
        for name in filenames:
            path = here / name
            rel = path.relative_to(root).as_posix()
            if rel == MARKER or path.is_symlink() or not path.is_file():
                continue
            found[rel] = _hash(path)
    return found


def snapshot_one(path: Path) -> str:
    return _hash(path)


def record(root: Path, built: dict[str, str]) -> None:
    """After the demo's cycle: add what the cycle created, and the demo's own files as the
    cycle left them, to the marker. `built` is the snapshot taken right after the build; a
    user's file the cycle changed (a card it annotated) stays the user's."""
    owned = load(root)
    for rel, digest in snapshot(root).items():
        if rel in owned or rel not in built:
            owned[rel] = digest
    save(root, owned)


def load(root: Path) -> dict[str, str]:
    """The demo's own files as the marker lists them ({} for a marker of an older demo)."""
    try:
        text = (root / MARKER).read_text(encoding="utf-8")
        body = "".join(line for line in text.splitlines(True) if not line.startswith("#"))
        data = json.loads(body) if body.strip() else {}
        files = data.get("files", {}) if isinstance(data, dict) else {}
        return {str(k): str(v) for k, v in files.items()}
    except (OSError, ValueError, AttributeError):
        return {}


def save(root: Path, files: dict[str, str]) -> None:
    body = json.dumps({"files": dict(sorted(files.items()))}, indent=1)
    (root / MARKER).write_text(_HEADER + body + "\n", encoding="utf-8")


def clear(root: Path) -> list[str]:
    """Remove the demo's own files that are as the demo left them, and its ledger.

    Returns the listed files kept because they changed since (the user's now)."""
    kept: list[str] = []
    resolved = root.resolve()
    for rel, digest in load(root).items():
        path = _current(root, rel)
        if path is None:
            continue
        if not path.resolve().is_relative_to(resolved) or path.is_symlink():
            continue  # a marker edited to point elsewhere: never delete outside
        if _hash(path) == digest:
            path.unlink()
        else:
            kept.append(rel)
    state = root / STATE
    if state.is_dir() and not state.is_symlink():
        shutil.rmtree(state)
    return kept


def _current(root: Path, rel: str) -> Path | None:
    """Where a listed file is now: a Maildir message may have moved and changed its flags."""
    path = root / rel
    if path.parent.name not in _MAILDIR_SUBS:
        return path if path.is_file() else None
    wanted = unique_name(path.name)
    for sub in _MAILDIR_SUBS:
        folder = path.parent.parent / sub
        if folder.is_dir():
            for candidate in folder.iterdir():
                if unique_name(candidate.name) == wanted and candidate.is_file():
                    return candidate
    return None


def _hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()

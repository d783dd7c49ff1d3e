"""Drafts in a Maildir folder, where mutt, neomutt, aerc, Thunderbird (via Dovecot) find them.

A draft is delivered the Maildir way (written in tmp/, linked into cur/) with the flags
"DS": D marks a draft (Maildir spec; mutt, notmuch and Dovecot's \\Draft), S keeps a fresh
draft from showing as unread mail. The file name carries the key; the Message-ID carries it
too, so a draft a client rewrote under a new name is still found.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import structlog

from followup.core.mime import render_mime
from followup.errors import EnvironmentFailure, InputError
from followup.model import DraftPayload, RemoteState, RemoveOutcome, WriteOutcome, WriteResult
from followup.providers.local.files import NEW_FILE_MODE, fingerprint, read_bytes
from followup.providers.local.maildir import ensure_folder, list_messages, read_headers

log = structlog.get_logger(__name__)

FLAGS = "DS"


def _host() -> str:
    # The Maildir spec's escapes for the two characters a host part must not contain.
    return socket.gethostname().replace("/", r"\057").replace(":", r"\072") or "localhost"


class MaildirDrafts:
    def __init__(self, folder: Path, *, subfolder: bool, clock: Callable[[], datetime],
                 root: Path | None = None) -> None:
        self.folder = folder
        self.subfolder = subfolder
        self.clock = clock
        # The configured Maildir root: it must exist, a misspelled one is never created
        # (no client would read it). None: a default folder of ours, created when needed.
        self.root = root

    def ensure(self, key: str, payload: DraftPayload, *, recovering: bool) -> WriteResult:
        # The file name carries the key, so the usual lookup is a directory listing. Reading
        # every draft's headers (for one a client renamed) is only for a write that may
        # already have happened: on every new draft it would make a cycle quadratic.
        found = self._find(key, by_header=recovering)
        if found is not None:
            data = read_bytes(found)
            if data is not None:
                return WriteResult(WriteOutcome.EXISTED, found.name, fingerprint(data))
        try:
            data = render_mime(payload, date=self.clock())
        # An address that is not one, or a message that does not read back as meant
        # (mime.UnsafeMessage): retrying will not help, and nothing is written.
        except ValueError as e:
            raise InputError(f"cannot compose draft {key}: {e}") from e
        # On disk a message has the local line ending: mutt and aerc show a CR as ^M.
        # (Gmail's raw upload keeps the CRLF of policy.SMTP.)
        data = data.replace(b"\r\n", b"\n")
        self._check_root()
        ensure_folder(self.folder, subfolder=self.subfolder)
        when = int(self.clock().timestamp())
        unique = f"{when}.followup-{key}.{_host()}"
        name = f"{unique}:2,{FLAGS}"
        tmp = self.folder / "tmp" / unique
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, NEW_FILE_MODE)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            (self.folder / "cur" / name).hardlink_to(tmp)
        finally:
            tmp.unlink(missing_ok=True)
        log.info("draft.created", folder=str(self.folder), file=name)
        return WriteResult(WriteOutcome.CREATED, name, fingerprint(data))

    def _check_root(self) -> None:
        """A configured Maildir that is not there (unmounted, renamed, misspelled) says
        nothing about our drafts: never report them as deleted by the user, never write."""
        if self.root is not None and not self.root.is_dir():
            raise EnvironmentFailure(f"Maildir {self.root} does not exist; create it or fix "
                                     "`maildir` in the config")

    def state(self, key: str, remote_id: str | None, fingerprint_: str | None) -> RemoteState:
        self._check_root()
        found = self._find(key)
        data = read_bytes(found) if found is not None else None
        if data is None:
            return RemoteState.MISSING
        same = fingerprint_ is None or fingerprint(data) == fingerprint_
        return RemoteState.PRESENT if same else RemoteState.EDITED

    def remove(self, key: str, remote_id: str | None, fingerprint_: str | None) -> RemoveOutcome:
        self._check_root()
        found = self._find(key)
        data = read_bytes(found) if found is not None else None
        if found is None or data is None:
            return RemoveOutcome.GONE
        if fingerprint_ is None or fingerprint(data) != fingerprint_:
            return RemoveOutcome.KEPT
        found.unlink(missing_ok=True)
        log.info("draft.removed", file=found.name)
        return RemoveOutcome.REMOVED

    def _find(self, key: str, *, by_header: bool = True) -> Path | None:
        entries = list_messages(self.folder)
        marker = f".followup-{key}."
        for e in entries:
            if marker in e.key:
                return e.path
        if not by_header:
            return None
        wanted = f"<{key}@"
        for e in entries:  # renamed by a client that rewrote it: look for our Message-ID
            if e.problem:
                continue
            try:
                headers = read_headers(e.path, fast=True)
            except OSError:  # one unreadable message is not ours to judge
                continue
            if headers is not None and str(headers.get("Message-ID", "")).strip().startswith(
                wanted
            ):
                return e.path
        return None

"""Follow-up blocks as `<key>.ics` files in a vdir calendar that khal or vdirsyncer shows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import structlog

from followup.errors import EnvironmentFailure
from followup.ical import render_block
from followup.model import BlockPayload, RemoteState, RemoveOutcome, WriteOutcome, WriteResult
from followup.providers.local.files import create_exclusive, fingerprint, read_bytes

log = structlog.get_logger(__name__)


class VdirBlocks:
    def __init__(self, folder: Path, tz: ZoneInfo, clock: Callable[[], datetime], *,
                 create: bool = True) -> None:
        self.folder = folder
        self.tz = tz
        self.clock = clock
        # A configured calendar folder must exist: a misspelled one is never created (khal
        # would not show it). A default folder of ours is created when needed.
        self.create = create

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.ics"

    def ensure(self, key: str, payload: BlockPayload, *, recovering: bool) -> WriteResult:
        path = self._path(key)
        existing = read_bytes(path)
        if existing is not None:
            return WriteResult(WriteOutcome.EXISTED, path.name, fingerprint(existing))
        self._check_folder()
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = render_block(key, payload, tz=self.tz, stamp=self.clock())
        if not create_exclusive(path, data):
            existing = read_bytes(path) or data
            return WriteResult(WriteOutcome.EXISTED, path.name, fingerprint(existing))
        log.info("block.created", file=path.name)
        return WriteResult(WriteOutcome.CREATED, path.name, fingerprint(data))

    def _check_folder(self) -> None:
        """A configured folder that is not there (unmounted, renamed, misspelled) says nothing
        about our blocks: never report them as deleted by the user, never create it."""
        if not self.create and not self.folder.is_dir():
            raise EnvironmentFailure(f"calendar folder {self.folder} does not exist; create "
                                     "it or fix `followups` in the config")

    def state(self, key: str, remote_id: str | None, fingerprint_: str | None) -> RemoteState:
        self._check_folder()
        data = read_bytes(self._path(key))
        if data is None:
            return RemoteState.MISSING
        same = fingerprint_ is None or fingerprint(data) == fingerprint_
        return RemoteState.PRESENT if same else RemoteState.EDITED

    def remove(self, key: str, remote_id: str | None, fingerprint_: str | None) -> RemoveOutcome:
        self._check_folder()
        path = self._path(key)
        data = read_bytes(path)
        if data is None:
            return RemoveOutcome.GONE
        if fingerprint_ is None or fingerprint(data) != fingerprint_:
            return RemoveOutcome.KEPT
        path.unlink(missing_ok=True)
        log.info("block.removed", file=path.name)
        return RemoveOutcome.REMOVED

"""Issue 11 on local files: a follow-up block that could not be written (the followups folder
unwritable for a whole cycle), that a killed process only recorded, or that was written where
free/busy does not look (busy_from_followups = false), keeps its slot: the next meeting's block
goes elsewhere, and once the folder is writable again no two blocks overlap."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar

from followup.config import UserConfig
from followup.core.compose import Composer
from followup.demo.workspace import ADA, USER_DOMAIN, Person, make_event
from followup.engine.apply import Hook
from followup.engine.cycle import CycleReport, run_cycle
from followup.ledger import Ledger, WriteRow, WriteState
from followup.ledger.store import process_identity
from followup.model import BlockPayload, Interval, WriteKind
from followup.providers.local import open_local_account

from .conftest import Home

T0 = datetime(2025, 3, 10, 10, 0, tzinfo=UTC)  # a Monday
A_START = T0  # 10:00-11:00 UTC, a morning meeting
B_START = T0 + timedelta(hours=3)  # 13:00-14:00: the afternoon's, with a block of its own
A_PLANNED = A_START + timedelta(hours=1, minutes=15)
B_PLANNED = B_START + timedelta(hours=1, minutes=15)
JANE = Person("Jane Doe", "jane@acme.example")
BOB = Person("Bob Roe", "bob@globex.example")


class Crash(BaseException):
    """Stands in for the process dying: nothing after it runs, nothing catches it."""


def overlaps(spans: Iterable[Interval]) -> list[tuple[Interval, Interval]]:
    ordered = sorted(spans, key=lambda s: (s.start, s.end))
    return [(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1:] if a.overlaps(b)]


class Local:
    """A local account on a clock the test moves, with its ledger."""

    def __init__(self, home: Home, ledger: Ledger, **account: Any) -> None:
        self.home = home
        self.ledger = ledger
        cfg, config = home.config(**account)
        self.config = config.model_copy(update={"user": UserConfig(
            name=ADA.name, addresses=[ADA.email], domains=[USER_DOMAIN], timezone="UTC")})
        self.now = T0
        self.account = open_local_account(cfg, self.config, clock=lambda: self.now)
        self.composer = Composer(self.config.user)

    def run(self, now: datetime, hooks: Hook | None = None) -> CycleReport:
        self.now = now
        return run_cycle(self.config, self.ledger, self.account, self.composer, now,
                         hooks=hooks)

    def event(self, uid: str, title: str, start: datetime, minutes: int,
              people: list[Person]) -> None:
        cal = make_event(uid, title, start, start + timedelta(minutes=minutes), people,
                         description="We talked about the pilot." if people else "")
        (self.home.calendar / f"{uid}.ics").write_bytes(cal.to_ical())

    def two_meetings(self) -> None:
        """A (morning) and B (afternoon), with the day busy so that the first free slot
        after either is 16:00: the one both blocks want."""
        self.event("focus-1@x", "Focus time", T0 + timedelta(hours=1), 120, [])  # 11-13
        self.event("focus-2@x", "Focus time", T0 + timedelta(hours=4), 120, [])  # 14-16
        self.event("a@acme.example", "Pilot review", A_START, 60, [JANE])
        self.event("b@globex.example", "Pilot kickoff", B_START, 60, [BOB])

    def planned(self) -> dict[str, Interval]:
        """Each meeting's block as the ledger planned it, by the meeting's UID."""
        return {
            row.meeting_uid or row.key: Interval(row.payload.start, row.payload.end)
            for row in self.ledger.writes(self.account.name)
            if row.kind is WriteKind.BLOCK and isinstance(row.payload, BlockPayload)
        }

    def blocks(self) -> list[Interval]:
        """The blocks in the followups folder, as a calendar app reads them."""
        out = []
        for path in self.home.followups.glob("*.ics"):
            for ev in Calendar.from_ical(path.read_bytes()).walk("VEVENT"):
                out.append(Interval(ev.decoded("dtstart").astimezone(UTC),
                                    ev.decoded("dtend").astimezone(UTC)))
        return out

    def settle(self, start: datetime) -> None:
        now = start
        for _ in range(30):
            self.run(now)
            if not self.ledger.writes(self.account.name, states=[WriteState.PENDING]):
                return
            now += timedelta(minutes=30)
        raise AssertionError("writes still pending")

    def assert_apart(self) -> None:
        blocks = self.blocks()
        assert len(blocks) == 2
        assert overlaps(blocks) == []
        assert sorted(blocks, key=lambda s: s.start) == sorted(
            self.planned().values(), key=lambda s: s.start)
        assert {r.state for r in self.ledger.writes(self.account.name)} == {WriteState.DONE}


@contextmanager
def unwritable(folder: Path) -> Iterator[None]:
    """The folder as a read-only mount leaves it: nothing can be created in it. Root
    ignores permissions, so as root the folder is made immutable (chattr +i) instead."""
    mode = folder.stat().st_mode
    folder.chmod(0o555)
    immutable = False
    try:
        if os.access(folder, os.W_OK):  # root: permissions do not bind
            chattr = shutil.which("chattr")
            immutable = chattr is not None and subprocess.run(
                [chattr, "+i", str(folder)], capture_output=True, check=False).returncode == 0
            if not immutable or _can_create_in(folder):
                pytest.skip("no way to make a folder unwritable for root on this file system")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], capture_output=True, check=True)
        folder.chmod(mode)


def _can_create_in(folder: Path) -> bool:
    probe = folder / ".probe"
    try:
        probe.touch()
    except OSError:
        return False
    probe.unlink()
    return True


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite3'}") as opened:
        yield opened


@pytest.mark.parametrize("failing_cycles", [1, 2], ids=["A-retried-with-B", "both-fail-then-ok"])
def test_a_block_the_folder_refused_for_a_cycle_keeps_its_slot(
    home: Home, ledger: Ledger, failing_cycles: int
) -> None:
    local = Local(home, ledger)
    local.two_meetings()
    with unwritable(home.followups):
        first = local.run(A_PLANNED)
        assert first.written(WriteKind.CONTACT, "created") == 1
        assert first.written(WriteKind.DRAFT, "created") == 1
        assert first.written(WriteKind.BLOCK, "failed") == 1
        assert local.blocks() == []
        assert local.planned()["a@acme.example"].start == T0 + timedelta(hours=6)  # 16:00
        if failing_cycles == 2:  # still unwritable when B is planned
            local.run(B_PLANNED)
    if failing_cycles == 1:  # writable again: A's retry comes in the cycle that plans B
        local.run(B_PLANNED)
    planned = local.planned()
    assert not planned["a@acme.example"].overlaps(planned["b@globex.example"])
    local.settle(B_PLANNED + timedelta(minutes=30))
    local.assert_apart()


def test_a_block_written_where_free_busy_does_not_look_keeps_its_slot(
    home: Home, ledger: Ledger
) -> None:
    """busy_from_followups = false: the calendar never shows our blocks as busy (a done
    write not yet visible, for good); the ledger's record of them is all there is."""
    local = Local(home, ledger, busy_from_followups=False)
    local.two_meetings()
    local.run(A_PLANNED)
    assert len(local.blocks()) == 1
    local.run(B_PLANNED)
    local.assert_apart()


def successor() -> str:
    """The identity of the process started after a kill (same host and pid, another run)."""
    host, boot, ns, pid, _ = process_identity().split("|")
    return f"{host}|{boot}|{ns}|{pid}|restarted000"


@pytest.mark.parametrize("kind", [WriteKind.CONTACT, WriteKind.BLOCK])
def test_a_kill_between_recording_and_writing_keeps_the_slot(
    home: Home, tmp_path: Path, kind: WriteKind
) -> None:
    url = f"sqlite:///{tmp_path / 'killed.sqlite3'}"

    def kill(point: str, row: WriteRow) -> None:
        if point == "before_write" and row.kind is kind:
            raise Crash

    with Ledger.open(url) as ledger, pytest.raises(Crash):
        local = Local(home, ledger)
        local.two_meetings()
        local.run(A_PLANNED, hooks=kill)
    with Ledger.open(url, owner=successor()) as ledger:
        local = Local(home, ledger)
        assert local.blocks() == []
        local.run(B_PLANNED)
        planned = local.planned()
        assert not planned["a@acme.example"].overlaps(planned["b@globex.example"])
        local.settle(B_PLANNED + timedelta(minutes=30))
        local.assert_apart()

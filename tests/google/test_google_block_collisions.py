"""Issue 11 on Google: a follow-up block whose events.insert failed (5xx through a whole
cycle), or that a killed process only recorded, keeps its slot: the next meeting's block,
planned in a later cycle or process, goes elsewhere, and once the retry succeeds no two
follow-up blocks overlap."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fake_google import FakeGoogle, parse_time, rfc3339
from google_cycles import T0, Cycles

from followup.config import Config, GoogleAccount
from followup.engine.cycle import run_cycle
from followup.ledger import Ledger, WriteRow, WriteState
from followup.ledger.store import process_identity
from followup.model import BlockPayload, Interval, WriteKind

INSERT = "calendar.events.insert"
JANE = [("jane@acme.example", "Jane Doe")]
BOB = [("bob@globex.example", "Bob Roe")]
A_START = T0  # Monday 10:00-11:00 UTC, a morning meeting
B_START = T0 + timedelta(hours=3)  # 13:00-14:00: the afternoon's, with a block of its own
A_PLANNED = A_START + timedelta(hours=1, minutes=15)
B_PLANNED = B_START + timedelta(hours=1, minutes=15)


class Crash(BaseException):
    """Stands in for the process dying: nothing after it runs, nothing catches it."""


def overlaps(spans: Iterable[Interval]) -> list[tuple[Interval, Interval]]:
    ordered = sorted(spans, key=lambda s: (s.start, s.end))
    return [(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1:] if a.overlaps(b)]


def followup_blocks(fake: FakeGoogle) -> list[dict[str, Any]]:
    return [e for e in fake.live_events("primary")
            if "followupKey" in e.get("extendedProperties", {}).get("private", {})]


def spans(events: list[dict[str, Any]]) -> list[Interval]:
    return [Interval(parse_time(e["start"]), parse_time(e["end"])) for e in events]


def planned_blocks(ledger: Ledger) -> dict[str, Interval]:
    """Each meeting's block as the ledger planned it, by the meeting's iCalUID."""
    out: dict[str, Interval] = {}
    for row in ledger.writes("work"):
        if row.kind is WriteKind.BLOCK and isinstance(row.payload, BlockPayload):
            out[row.meeting_uid or row.key] = Interval(row.payload.start, row.payload.end)
    return out


def busy(fake: FakeGoogle, start: datetime, hours: int) -> None:
    """Time the user holds for themself: no one to follow up, but not free either."""
    fake.add_event("primary", {"summary": "Focus time", "start": {"dateTime": rfc3339(start)},
                               "end": {"dateTime": rfc3339(start + timedelta(hours=hours))}})


def two_meetings(cycles: Cycles) -> tuple[str, str]:
    """A (morning) and B (afternoon), with the day busy so that the first free slot after
    either is 16:00: the one both blocks want. Returns their iCalUIDs."""
    busy(cycles.fake, T0 + timedelta(hours=1), 2)  # 11:00-13:00
    busy(cycles.fake, T0 + timedelta(hours=4), 2)  # 14:00-16:00
    cycles.meeting(A_START, JANE)
    cycles.meeting(B_START, BOB)
    a, b = sorted((e for e in cycles.fake.live_events("primary") if e.get("attendees")),
                  key=lambda e: e["start"]["dateTime"])
    return a["iCalUID"], b["iCalUID"]


def assert_apart(cycles: Cycles, blocks: int = 2) -> None:
    events = followup_blocks(cycles.fake)
    assert len(events) == blocks
    assert overlaps(spans(events)) == []
    assert {r.state for r in cycles.ledger.writes("work")} == {WriteState.DONE}


@pytest.mark.parametrize("failing_cycles", [1, 2], ids=["A-retried-with-B", "both-fail-then-ok"])
def test_a_block_insert_failing_for_a_cycle_keeps_its_slot(
    cycles: Cycles, failing_cycles: int
) -> None:
    a, b = two_meetings(cycles)
    cycles.fake.fail_next(INSERT, 503, times=1000)  # every insert, retries included

    first = cycles.run(A_PLANNED)
    assert first.written(WriteKind.CONTACT, "created") == 1
    assert first.written(WriteKind.DRAFT, "created") == 1
    assert first.written(WriteKind.BLOCK, "failed") == 1
    assert followup_blocks(cycles.fake) == []
    assert planned_blocks(cycles.ledger)[a].start == T0 + timedelta(hours=6)  # 16:00

    if failing_cycles == 1:
        cycles.fake.scripted[INSERT].clear()  # A's retry comes in the cycle that plans B
    second = cycles.run(B_PLANNED)
    assert second.meetings_processed >= 1
    planned = planned_blocks(cycles.ledger)
    assert not planned[a].overlaps(planned[b])

    cycles.fake.scripted[INSERT].clear()
    cycles.until_settled(B_PLANNED + timedelta(minutes=30))
    assert_apart(cycles)
    assert sorted(spans(followup_blocks(cycles.fake)), key=lambda s: s.start) == sorted(
        planned.values(), key=lambda s: s.start)


def successor() -> str:
    """The identity of the process started after a kill (same host and pid, another run)."""
    host, boot, ns, pid, _ = process_identity().split("|")
    return f"{host}|{boot}|{ns}|{pid}|restarted000"


def test_a_kill_between_recording_and_writing_the_block_keeps_its_slot(
    fake: FakeGoogle, cfg: GoogleAccount, config: Config, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"

    def kill(point: str, row: WriteRow) -> None:
        if point == "before_write" and row.kind is WriteKind.BLOCK:
            raise Crash

    with Ledger.open(url) as ledger:
        cycles = Cycles(fake, cfg, config, ledger)
        a, b = two_meetings(cycles)
        cycles.now = fake.clock = A_PLANNED
        with pytest.raises(Crash):
            run_cycle(cycles.config, ledger, cycles.account, cycles.composer, A_PLANNED,
                      hooks=kill)
    assert followup_blocks(fake) == []
    with Ledger.open(url, owner=successor()) as ledger:
        cycles = Cycles(fake, cfg, config, ledger)
        cycles.run(B_PLANNED)
        planned = planned_blocks(ledger)
        assert not planned[a].overlaps(planned[b])
        cycles.until_settled(B_PLANNED + timedelta(minutes=30))
        assert_apart(cycles)

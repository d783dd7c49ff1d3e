"""Issue 11 on Microsoft 365: a follow-up block whose POST /me/events failed (503 through a
whole cycle), or that a killed process only recorded, keeps its slot: the next meeting's
block, planned in a later cycle or process, goes elsewhere, and once the retry succeeds no two
follow-up blocks overlap."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from followup.engine.cycle import run_cycle
from followup.ledger import Ledger, WriteRow, WriteState
from followup.ledger.store import process_identity
from followup.model import BlockPayload, Interval, WriteKind

from .conftest import MsWorld
from .graph_fake import Fault, _utc
from .test_microsoft_cycle import T0, Cycles

EVENTS = r"^/me/events$"  # where blocks are created (and nothing else is POSTed)
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


def spans(events: list[dict[str, Any]]) -> list[Interval]:
    return [Interval(_utc(e["start"]), _utc(e["end"])) for e in events]


def planned_blocks(ledger: Ledger) -> dict[str, Interval]:
    """Each meeting's block as the ledger planned it, by the meeting's iCalUId."""
    out: dict[str, Interval] = {}
    for row in ledger.writes("work"):
        if row.kind is WriteKind.BLOCK and isinstance(row.payload, BlockPayload):
            out[row.meeting_uid or row.key] = Interval(row.payload.start, row.payload.end)
    return out


def two_meetings(cycles: Cycles) -> None:
    """A (morning) and B (afternoon), with the day busy so that the first free slot after
    either is 16:00: the one both blocks want."""
    graph = cycles.ms.graph
    graph.add_event("Focus time", T0 + timedelta(hours=1), 120)  # 11:00-13:00
    graph.add_event("Focus time", T0 + timedelta(hours=4), 120)  # 14:00-16:00
    cycles.meeting("a@acme.example", A_START, JANE)
    cycles.meeting("b@globex.example", B_START, BOB)


def unfail(cycles: Cycles) -> None:
    graph = cycles.ms.graph
    with graph.lock:
        graph.faults = [f for f in graph.faults if f.pattern != EVENTS]


def fail_block_posts(cycles: Cycles) -> None:
    graph = cycles.ms.graph
    with graph.lock:  # every create, the client's own retries included
        graph.faults.append(Fault("POST", EVENTS, "503", times=1000, retry_after=None))


def assert_apart(cycles: Cycles, blocks: int = 2) -> None:
    events = cycles.ms.graph.blocks()
    assert len(events) == blocks
    assert overlaps(spans(events)) == []
    assert {r.state for r in cycles.ledger.writes("work")} == {WriteState.DONE}


@pytest.fixture
def cycles(ms: MsWorld, tmp_path: Path) -> Iterator[Cycles]:
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite3'}") as ledger:
        yield Cycles(ms, ledger)


@pytest.mark.parametrize("failing_cycles", [1, 2], ids=["A-retried-with-B", "both-fail-then-ok"])
def test_a_block_create_failing_for_a_cycle_keeps_its_slot(
    cycles: Cycles, failing_cycles: int
) -> None:
    two_meetings(cycles)
    fail_block_posts(cycles)

    first = cycles.run(A_PLANNED)
    assert first.written(WriteKind.CONTACT, "created") == 1
    assert first.written(WriteKind.DRAFT, "created") == 1
    assert first.written(WriteKind.BLOCK, "failed") == 1
    assert cycles.ms.graph.blocks() == []
    assert planned_blocks(cycles.ledger)["a@acme.example"].start == T0 + timedelta(hours=6)

    if failing_cycles == 1:
        unfail(cycles)  # A's retry comes in the cycle that plans B
    cycles.run(B_PLANNED)
    planned = planned_blocks(cycles.ledger)
    assert not planned["a@acme.example"].overlaps(planned["b@globex.example"])

    unfail(cycles)
    cycles.until_settled(B_PLANNED + timedelta(minutes=30))
    assert_apart(cycles)
    assert sorted(spans(cycles.ms.graph.blocks()), key=lambda s: s.start) == sorted(
        planned.values(), key=lambda s: s.start)


def successor() -> str:
    """The identity of the process started after a kill (same host and pid, another run)."""
    host, boot, ns, pid, _ = process_identity().split("|")
    return f"{host}|{boot}|{ns}|{pid}|restarted000"


def test_a_kill_between_recording_and_writing_the_block_keeps_its_slot(
    ms: MsWorld, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"

    def kill(point: str, row: WriteRow) -> None:
        if point == "before_write" and row.kind is WriteKind.BLOCK:
            raise Crash

    with Ledger.open(url) as ledger:
        cycles = Cycles(ms, ledger)
        two_meetings(cycles)
        ms.now = A_PLANNED
        with pytest.raises(Crash):
            run_cycle(cycles.config, ledger, cycles.account, cycles.composer, A_PLANNED,
                      hooks=kill)
    assert ms.graph.blocks() == []
    with Ledger.open(url, owner=successor()) as ledger:
        cycles = Cycles(ms, ledger)
        cycles.run(B_PLANNED)
        planned = planned_blocks(ledger)
        assert not planned["a@acme.example"].overlaps(planned["b@globex.example"])
        cycles.until_settled(B_PLANNED + timedelta(minutes=30))
        assert_apart(cycles)

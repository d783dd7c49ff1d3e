"""Follow-up blocks never collide (issue 11, part 1), on the memory twin with a real ledger.

A block the ledger knows but the calendar does not show yet (pending, waiting for its retry
after a failed insert, recorded by a process that died before writing it) still holds its
slot: a meeting planned in a later cycle, or by a later process, takes another one. The
slots earlier drafts proposed are held too: no block lands in one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import pytest

from engine.test_cycle import Crash
from engine.world import BOB, JANE, ME, T0, World, make_config, meeting
from followup.engine.cycle import run_cycle
from followup.ledger import Ledger, WriteRow, WriteState
from followup.ledger.store import process_identity
from followup.model import BlockPayload, Interval, WriteKind
from followup.providers.memory import MemoryProvider

A_START = T0  # Monday 10:00-11:00 UTC: a morning meeting
B_START = T0 + timedelta(hours=3)  # 13:00-14:00: the afternoon's, so a block of its own
A_PLANNED = A_START + timedelta(hours=1, minutes=15)
B_PLANNED = B_START + timedelta(hours=1, minutes=15)


def overlaps(spans: Iterable[Interval]) -> list[tuple[Interval, Interval]]:
    """Every pair of spans that share some time."""
    ordered = sorted(spans, key=lambda s: (s.start, s.end))
    return [(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1:] if a.overlaps(b)]


def block_rows(ledger: Ledger, account: str = "work") -> dict[str, WriteRow]:
    """The account's block writes by the uid of the (first) meeting they are for."""
    return {r.meeting_uid or r.key: r for r in ledger.writes(account)
            if r.kind is WriteKind.BLOCK}


def span(row: WriteRow) -> Interval:
    assert isinstance(row.payload, BlockPayload)
    return Interval(row.payload.start, row.payload.end)


def busy_afternoon(provider: MemoryProvider) -> None:
    """11:00-13:00 and 14:00-16:00 taken (and B's meeting between): the day's first free
    slot after either meeting is 16:00, the one both blocks want."""
    provider.extra_busy += [Interval(T0 + timedelta(hours=1), T0 + timedelta(hours=3)),
                            Interval(T0 + timedelta(hours=4), T0 + timedelta(hours=6))]


def two_meetings(provider: MemoryProvider) -> None:
    busy_afternoon(provider)
    provider.add_meeting(meeting("a@acme.example", A_START, [JANE]))
    provider.add_meeting(meeting("b@globex.example", B_START, [BOB], title="Pilot kickoff"))


def settle(world: World, start: datetime, *, step: timedelta = timedelta(minutes=10),
           cycles: int = 30) -> datetime:
    now = start
    for _ in range(cycles):
        world.cycle(now)
        if not world.ledger.writes(world.account.name, states=[WriteState.PENDING]):
            return now
        now += step
    raise AssertionError("writes still pending")


def assert_one_block_each_and_apart(provider: MemoryProvider, blocks: int = 2) -> None:
    live = provider.live_blocks()
    assert len(live) == blocks
    assert overlaps(Interval(b.start, b.end) for b in live) == []
    assert (len(provider.contacts), len(provider.drafts)) == (2, 2)


# --- the regression of the report: a block insert that fails for a whole cycle ---------------


@pytest.mark.parametrize("failing_cycles", [1, 2], ids=["A-retried-with-B", "both-fail-then-ok"])
def test_a_block_whose_insert_failed_keeps_its_slot_from_the_next_meeting(
    world: World, failing_cycles: int
) -> None:
    p = world.provider
    two_meetings(p)
    p.faults.at_random(1.0, seed=1, calls=["blocks.ensure"], lost_share=0.0)  # a 5xx each time

    first = world.cycle(A_PLANNED)
    assert first.written(WriteKind.CONTACT, "created") == 1
    assert first.written(WriteKind.DRAFT, "created") == 1
    assert first.written(WriteKind.BLOCK, "failed") == 1 and p.live_blocks() == []
    a_row = block_rows(world.ledger)["a@acme.example"]
    assert a_row.state is WriteState.PENDING and a_row.retry_at is not None
    assert span(a_row).start == T0 + timedelta(hours=6)  # 16:00, the first free slot

    if failing_cycles == 1:
        p.faults.clear()  # A's retry comes in the cycle that plans B
    second = world.cycle(B_PLANNED)
    assert second.meetings_processed == 1
    rows = block_rows(world.ledger)
    assert not span(rows["a@acme.example"]).overlaps(span(rows["b@globex.example"]))

    p.faults.clear()
    settle(world, B_PLANNED + timedelta(minutes=5))
    assert_one_block_each_and_apart(p)
    assert {b.key for b in p.live_blocks()} == {r.key for r in rows.values()}


def test_a_block_given_up_after_its_attempts_still_holds_its_slot(ledger_url: str) -> None:
    """A block failed for good (max_attempts used up) can come back with `followup retry
    --failed`: until the user decides, its time stays free of other blocks."""
    provider = MemoryProvider("work", self_addresses=[ME])
    two_meetings(provider)
    provider.faults.at_random(1.0, seed=2, calls=["blocks.ensure"], lost_share=0.0)
    with Ledger.open(ledger_url, max_attempts=1) as ledger:
        world = World(ledger, provider, make_config())
        world.cycle(A_PLANNED)
        assert block_rows(ledger)["a@acme.example"].state is WriteState.FAILED
        provider.faults.clear()
        world.cycle(B_PLANNED)
        rows = block_rows(ledger)
    assert not span(rows["a@acme.example"]).overlaps(span(rows["b@globex.example"]))
    (b_block,) = provider.live_blocks()
    assert b_block.key == rows["b@globex.example"].key


# --- a process that dies between recording its intents and writing them ---------------------


def successor() -> str:
    """The identity of the process that restarts after a kill: same host and pid, another
    run (as pid 1 of a restarted container), so the dead one's claims are taken over."""
    host, boot, ns, pid, _ = process_identity().split("|")
    return f"{host}|{boot}|{ns}|{pid}|restarted000"


@pytest.mark.parametrize(("point", "kind"), [
    ("before_write", WriteKind.CONTACT),  # nothing of A written: every intent only recorded
    ("before_write", WriteKind.BLOCK),  # A's card and draft written, its block claimed
    ("after_write", WriteKind.BLOCK),  # A's block written, the ledger never heard
])
def test_a_kill_between_recording_and_writing_leaves_the_slot_taken(
    ledger_url: str, point: str, kind: WriteKind
) -> None:
    provider = MemoryProvider("work", self_addresses=[ME])
    two_meetings(provider)

    def kill(at: str, row: WriteRow) -> None:
        if at == point and row.kind is kind:
            raise Crash

    with Ledger.open(ledger_url) as ledger, pytest.raises(Crash):
        World(ledger, provider, make_config()).cycle(A_PLANNED, hook=kill)
    with Ledger.open(ledger_url, owner=successor()) as ledger:
        world = World(ledger, provider, make_config())
        world.cycle(B_PLANNED)
        rows = block_rows(ledger)
        assert not span(rows["a@acme.example"]).overlaps(span(rows["b@globex.example"]))
        settle(world, B_PLANNED + timedelta(minutes=5))
    assert_one_block_each_and_apart(provider)


def test_two_processes_sharing_a_ledger_plan_around_each_others_blocks(
    ledger_url: str,
) -> None:
    """Two daemons on one ledger (two hosts): the second plans while the first's block is
    only a row in the ledger."""
    provider = MemoryProvider("work", self_addresses=[ME])
    two_meetings(provider)
    with Ledger.open(ledger_url, owner="host-one") as one, \
            Ledger.open(ledger_url, owner="host-two") as two:
        first = World(one, provider, make_config())
        second = World(two, provider, make_config())
        # host-one records A's intents but is stopped before writing any of them.
        run_cycle(first.config, one, first.account, first.composer, A_PLANNED,
                  stop=lambda: True)
        assert provider.live_blocks() == []
        second.cycle(B_PLANNED)
        settle(second, B_PLANNED + timedelta(minutes=5))
    assert_one_block_each_and_apart(provider)

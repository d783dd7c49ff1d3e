"""Follow-up blocks never collide (issue 11, part 1), on the memory twin with a real ledger.

A block the ledger knows but the calendar does not show yet (pending, waiting for its retry
after a failed insert, recorded by a process that died before writing it) still holds its
slot: a meeting planned in a later cycle, or by a later process, takes another one. The
slots drafts proposed are held too: no block lands in one. With no free time at all (a
conference week) a block may overlap the user's meetings, never another block or an offer.
The property test runs any sequence of meetings, busy time, cycles, faults, kills and the
user's sends or deletions, and checks all of it after every step.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select

from engine.test_cycle import Crash
from engine.world import BOB, JANE, ME, T0, World, make_config, meeting, person
from followup.config import UserConfig
from followup.core.state import PersonState
from followup.engine.cycle import run_cycle
from followup.ledger import Ledger, WriteRow, WriteState, schema
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


# --- no free time at all: a conflict block still keeps off the others -------------------------


def conference(provider: MemoryProvider, *free: Interval) -> None:
    """Monday to Thursday taken from midnight to midnight (a conference), but for `free`."""
    edges = [T0.replace(hour=0), *[t for f in free for t in (f.start, f.end)],
             T0.replace(hour=0) + timedelta(days=4)]
    provider.extra_busy += [Interval(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True)]


@pytest.mark.parametrize("apart", [False, True], ids=["one-cycle", "A-failed-cycle-before"])
def test_in_a_fully_booked_week_two_conflict_blocks_do_not_share_the_last_slot(
    world: World, apart: bool
) -> None:
    """Sessions ending at 12:50 (the morning's) and 13:00 (the afternoon's): each block goes
    at the last working slot before its deadline, busy or not, 12:35 and 12:45 on Thursday,
    which would overlap: the second moves off the first (planned in the same cycle, or in
    the cycle before with its insert failing, so that it is only a row in the ledger)."""
    p = world.provider
    conference(p)
    p.add_meeting(meeting("a@acme.example", T0 + timedelta(hours=1, minutes=50), [JANE]))
    p.add_meeting(meeting("b@globex.example", T0 + timedelta(hours=2), [BOB]))
    if apart:
        p.faults.at_random(1.0, seed=3, calls=["blocks.ensure"], lost_share=0.0)
        world.cycle(T0 + timedelta(hours=3, minutes=5))  # A only (B is still in its grace)
        assert p.live_blocks() == [] and len(block_rows(world.ledger)) == 1
        p.faults.clear()
    world.cycle(T0 + timedelta(hours=3, minutes=15))
    blocks = p.live_blocks()
    assert len(blocks) == 2
    assert overlaps(Interval(b.start, b.end) for b in blocks) == []
    rows = block_rows(world.ledger)
    assert all(isinstance(r.payload, BlockPayload) and r.payload.conflict for r in rows.values())


def test_with_no_free_time_a_conflict_block_stays_out_of_the_slot_its_draft_offers(
    world: World,
) -> None:
    """The only free half hour before the deadline, Thursday 11:30, is offered in the draft;
    the block, with nowhere free to go, takes the time just before it, not the offer."""
    p = world.provider
    thursday = T0.replace(hour=0) + timedelta(days=3)
    offer = Interval(thursday + timedelta(hours=11, minutes=30), thursday + timedelta(hours=12))
    conference(p, offer)
    p.add_meeting(meeting("a@acme.example", T0 + timedelta(hours=1), [JANE]))  # ends 12:00
    world.cycle(T0 + timedelta(hours=2, minutes=15))
    (block,) = p.live_blocks()
    (draft,) = p.drafts.values()
    assert "11:30" in draft.body  # Thursday 11:30 is offered...
    assert not Interval(block.start, block.end).overlaps(offer)  # ...and kept free
    assert block.end <= thursday + timedelta(hours=12)  # still before the deadline


# --- any sequence of meetings, cycles, faults and kills ----------------------------------------

POOL = [person(f"p{i}@client{i % 3}.example", f"Person {i}") for i in range(6)]
START = T0 - timedelta(hours=2)  # Monday 08:00 UTC: the week up to Friday's weekly block
QUARTER = timedelta(minutes=15)
LIVE = (WriteState.PENDING, WriteState.FAILED, WriteState.DONE)


@dataclass(frozen=True)
class Meet:
    """A meeting put in the calendar, starting `quarters` quarter-hours from now."""

    quarters: int
    minutes: int
    people: tuple[int, ...]


@dataclass(frozen=True)
class Busy:
    """The user's own busy time (no one to follow up), `quarters` from now."""

    quarters: int
    length: int


@dataclass(frozen=True)
class Cycle:
    """The clock moves on `minutes`, then a cycle runs; with every block insert (or draft
    create) failing through it, "lost" when the insert is applied but its answer lost; and
    `kill`: the process dies at the n-th pass of that point (then a new process starts)."""

    minutes: int
    block_fault: str | None = None
    draft_fault: bool = False
    kill: tuple[str, int] | None = None


@dataclass(frozen=True)
class UserDraft:
    """The user sends (or deletes unsent) the oldest draft in their Drafts folder."""

    send: bool


@dataclass(frozen=True)
class Round:
    """What happens between two cycles, then the cycle."""

    meetings: tuple[Meet, ...]
    busy: tuple[Busy, ...]
    user: UserDraft | None
    cycle: Cycle

    def steps(self) -> list[Meet | Busy | UserDraft | Cycle]:
        return [*self.meetings, *self.busy, *([self.user] if self.user else []), self.cycle]


MEETINGS = st.builds(
    Meet,
    st.integers(-8, 12) | st.integers(-8, 2 * 24 * 4),  # mostly soon, some in two days
    st.sampled_from([30, 60, 90]),
    st.lists(st.integers(0, len(POOL) - 1), min_size=1, max_size=3, unique=True).map(tuple),
)
CYCLES = st.builds(
    Cycle,
    st.sampled_from([5, 20, 60, 180, 420, 1440, 2880]),
    st.sampled_from([None, None, "fail", "lost"]),
    st.sampled_from([False, False, True]),
    st.sampled_from([None, None]) | st.tuples(
        st.sampled_from(["before_write", "after_write"]), st.integers(1, 4)),
)
ROUNDS = st.lists(
    st.builds(
        Round,
        st.lists(MEETINGS, max_size=2).map(tuple),
        # Busy time, sometimes whole days of it (no free slot before a deadline: a day away).
        st.lists(st.builds(Busy, st.integers(0, 2 * 24 * 4),
                           st.integers(1, 16) | st.integers(16, 2 * 24 * 4)),
                 max_size=1).map(tuple),
        st.sampled_from([None, UserDraft(send=True), UserDraft(send=True),
                         UserDraft(send=False)]),
        CYCLES,
    ),
    min_size=2, max_size=10,
)


class Sim:
    """One account on the memory twin and a SQLite ledger, on a simulated clock."""

    def __init__(self, url: str, *, weekly: bool, start: datetime = START,
                 zone: str = "UTC") -> None:
        self.url = url
        self.now = start
        self.provider = MemoryProvider("work", self_addresses=[ME])
        # Touches due every 2 to 4 days: nurture (and its weekly block) within the run.
        config = make_config(cadence_min_days=2, cadence_max_days=4, weekly_batch=weekly)
        config = config.model_copy(update={"user": UserConfig(
            **{**config.user.model_dump(), "timezone": zone})})
        self.restarts = 0
        self.meetings = 0
        self.world = World(self._open(), self.provider, config)
        self.offers = create_engine(url)
        self.rows: list[WriteRow] = []  # the ledger's writes, as the last check saw them
        self.offer_count = 0

    def _open(self) -> Ledger:
        host, boot, ns, pid, _ = process_identity().split("|")
        return Ledger.open(self.url, clock=lambda: self.now,
                           owner=f"{host}|{boot}|{ns}|{pid}|sim{self.restarts:06d}")

    def close(self) -> None:
        self.world.ledger.close()
        self.offers.dispose()

    def do(self, step: Meet | Busy | Cycle | UserDraft) -> None:
        p = self.provider
        if isinstance(step, Meet):
            self.meetings += 1
            p.add_meeting(meeting(f"m{self.meetings}@sim.example", self.now + step.quarters
                                  * QUARTER, [POOL[i] for i in step.people],
                                  minutes=step.minutes))
        elif isinstance(step, Busy):
            start = self.now + step.quarters * QUARTER
            p.extra_busy.append(Interval(start, start + step.length * QUARTER))
        elif isinstance(step, UserDraft):
            if p.drafts:
                oldest = next(iter(p.drafts))
                if step.send:
                    p.send_draft(oldest, self.now)
                else:
                    p.delete(WriteKind.DRAFT, oldest)
        else:
            self.cycle(step)

    def cycle(self, step: Cycle) -> None:
        self.now += timedelta(minutes=step.minutes)
        calls = [c for c, on in (("blocks.ensure", step.block_fault is not None),
                                 ("drafts.ensure", step.draft_fault)) if on]
        if calls:
            self.provider.faults.at_random(1.0, seed=0, calls=calls,
                                           lost_share=float(step.block_fault == "lost"))
        passed: list[str] = []

        def kill(point: str, row: WriteRow) -> None:
            passed.append(point)
            if step.kill is not None and passed.count(step.kill[0]) == step.kill[1] \
                    and point == step.kill[0]:
                raise Crash

        try:
            self.world.cycle(self.now, hook=kill)
        except Crash:  # the process is gone; another one starts on the same ledger
            self.world.ledger.close()
            self.restarts += 1
            self.world.ledger = self._open()
        finally:
            self.provider.faults.clear()

    def settle(self) -> None:
        for _ in range(48):
            self.cycle(Cycle(60))
            self.check()
            waiting = self.world.ledger.writes("work", states=[WriteState.PENDING])
            if not [r for r in waiting if r.due <= self.now]:  # nurture may be due later
                return
        raise AssertionError("writes still pending after two days without faults")

    def check(self) -> None:
        p = self.provider
        live = p.live_blocks()
        assert overlaps(Interval(b.start, b.end) for b in live) == [], "blocks on the calendar"
        self.rows = self.world.ledger.writes("work")
        rows = [r for r in self.rows if r.kind is WriteKind.BLOCK and r.state in LIVE]
        assert overlaps(span(r) for r in rows) == [], "blocks planned"
        # Exactly once: no object twice for one key.
        drafts = Counter(d.key for d in p.drafts.values())
        notes = Counter(n.key for c in p.contacts.values() for n in c.notes if n.key)
        assert [k for k, n in [*drafts.items(), *notes.items()] if n > 1] == []
        assert {b.key for b in live} <= {r.key for r in rows}
        self.check_offers(rows)

    def check_offers(self, blocks: Sequence[WriteRow]) -> None:
        """No block inside a slot that an open draft held when the block or the offer was
        planned (whichever came later)."""
        t = schema.offers
        gone = {r.key for r in self.rows if r.state not in LIVE}
        with self.offers.connect() as conn:
            offers = conn.execute(select(t).where(t.c.account == "work")).all()
        self.offer_count = max(self.offer_count, len(offers))
        for o in offers:
            if o.draft_key in gone:
                continue
            slot = Interval(o.starts_at, o.ends_at)
            for b in blocks:
                later = max(o.created_at, b.created_at)
                held = later < o.hold_until and later < o.starts_at
                assert not (held and span(b).overlaps(slot)), (
                    f"block {span(b)} inside slot {slot} offered by {o.draft_key}")


# Where the runs start: a plain week, the week Europe moves its clocks forward, the week it
# moves them back. The user's zone: half-days and working hours are local.
STARTS = [START, datetime(2025, 3, 24, 7, 0, tzinfo=UTC), datetime(2025, 10, 20, 6, 0, tzinfo=UTC)]
ZONES = ["UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata"]


def met_before(index: int, hours: int, start: datetime = START) -> PersonState:
    """Someone met a month ago whose last touch was `hours` before the start: their next
    touch falls due during the run (cadence of 2 to 4 days)."""
    anchor = start - timedelta(hours=hours)
    return PersonState(email=POOL[index].email, name=POOL[index].name,
                       first_met=anchor - timedelta(days=30), last_meeting_title="Intro",
                       anchor=anchor, touches=1, open_touch=False)


@settings(max_examples=15, deadline=timedelta(seconds=20),
          suppress_health_check=[HealthCheck.too_slow])
@given(rounds=ROUNDS, weekly=st.booleans(),
       met=st.dictionaries(st.integers(0, len(POOL) - 1), st.integers(0, 3 * 24), max_size=3),
       start=st.sampled_from(STARTS), zone=st.sampled_from(ZONES))
def test_no_sequence_of_cycles_faults_and_kills_makes_blocks_collide(
    rounds: list[Round], weekly: bool, met: dict[int, int], start: datetime, zone: str
) -> None:
    _label(simulate([step for r in rounds for step in r.steps()], weekly=weekly, start=start,
                    people=[met_before(i, h, start) for i, h in met.items()], zone=zone))


def simulate(
    steps: Sequence[Meet | Busy | Cycle | UserDraft], *, weekly: bool, start: datetime = START,
    people: Sequence[PersonState] = (), zone: str = "UTC",
) -> Sim:
    """Run `steps` from `start` (with `people` met before, the user in `zone`), checking
    after each, then settle without faults; the final state."""
    with tempfile.TemporaryDirectory(dir=_memory_folder()) as tmp:
        url = f"sqlite:///{Path(tmp) / 'ledger.sqlite3'}"
        shutil.copyfile(_template_ledger(), Path(tmp) / "ledger.sqlite3")
        sim = Sim(url, weekly=weekly, start=start, zone=zone)
        for state in people:
            sim.world.ledger.save_person("work", state)
        try:
            for step in steps:
                sim.do(step)
                sim.check()
            sim.settle()
        finally:
            sim.close()
    return sim


def _label(sim: Sim) -> None:
    """What the example reached (pytest --hypothesis-show-statistics)."""
    rows = [r for r in sim.rows if r.kind is WriteKind.BLOCK]
    event(f"blocks: {min(len(rows), 4)}")
    event(f"nurture blocks: {min(sum(1 for r in rows if not r.meeting_uid), 2)}")
    event(f"restarts: {min(sim.restarts, 2)}")
    event(f"retried writes: {min(sum(1 for r in sim.rows if r.attempts > 1), 3)}")
    event(f"offers: {min(sim.offer_count, 6)}")


def test_a_weekly_block_planned_with_a_first_touch_keeps_clear_of_the_slots_it_offers() -> None:
    """Thursday afternoon's cycle plans a meeting's first touch, whose draft offers Friday
    15:00 (the first free time that Friday), and, the weekly slot being a day away, the
    weekly batch, which wants Friday 15:00 too: the block goes elsewhere."""
    monday = T0 - timedelta(hours=2)  # 08:00
    friday_9 = monday + timedelta(days=4, hours=1)
    # Someone met before, whose next touch falls due this week.
    met = PersonState(email=POOL[0].email, name=POOL[0].name, first_met=monday - timedelta(
        days=30), last_meeting_title="Intro", anchor=monday - timedelta(days=1), touches=1,
        open_touch=False)
    steps: list[Meet | Busy | Cycle | UserDraft] = [
        Busy(quarters=(friday_9 - monday) // QUARTER, length=24),  # Friday 09:00-15:00
        Cycle(minutes=5),  # Monday: nothing to do yet
        Meet(quarters=299, minutes=60, people=(1,)),  # Thursday 14:00-15:00
        Cycle(minutes=3 * 24 * 60 + 7 * 60 + 10),  # Thursday 15:15
    ]
    sim = simulate(steps, weekly=True, start=monday, people=[met])
    weekly = [span(r) for r in sim.rows if r.kind is WriteKind.BLOCK and not r.meeting_uid]
    assert weekly and weekly[0].start.date() == friday_9.date()


def _memory_folder() -> str | None:
    """/dev/shm where there is one: a real SQLite file whose commits skip the disk's fsync,
    most of an example's time otherwise."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


def test_a_weekly_block_with_no_free_time_that_friday_keeps_off_the_first_touch_block() -> None:
    """Thursday full, Friday full but for 15:00-15:15 (and a 10-minute gap): Thursday's
    meeting gets the one free slot, Friday 15:00; the weekly batch, planned in the same
    cycle, finds no room that day and keeps its habit as a conflict, but not at 15:00."""
    monday = T0 - timedelta(hours=2)  # 08:00
    thursday, friday = (monday + timedelta(days=d, hours=-8) for d in (3, 4))  # midnight

    def at(when: datetime, now: datetime = monday) -> int:
        return (when - now) // QUARTER

    steps: list[Meet | Busy | Cycle | UserDraft] = [
        Busy(at(thursday), 4 * (24 + 15)),  # Thursday 00:00 to Friday 15:00
        Busy(at(friday + timedelta(hours=15, minutes=15)), 4 * 2),  # 15:15-17:15
        Busy(at(friday + timedelta(hours=17, minutes=25)), 4 * 6),  # 17:25 on
        Cycle(minutes=5),
        Meet(at(thursday + timedelta(hours=13), monday + timedelta(minutes=5)), 60, (1,)),
        Cycle(minutes=3 * 24 * 60 + 7 * 60 + 10),  # Thursday 15:15
    ]
    sim = simulate(steps, weekly=True, start=monday, people=[met_before(0, 24, monday)])
    blocks = {r.meeting_uid or "weekly": r.payload for r in sim.rows
              if r.kind is WriteKind.BLOCK and isinstance(r.payload, BlockPayload)}
    first, weekly = blocks["m1@sim.example"], blocks["weekly"]
    assert first.start == friday + timedelta(hours=15) and not first.conflict
    assert weekly.conflict and weekly.start.date() == friday.date()


@functools.cache
def _template_ledger() -> Path:
    """An empty ledger at the schema's head, copied for each example (migrating one takes
    longer than most examples)."""
    folder = Path(tempfile.mkdtemp(prefix="followup-collisions-"))
    Ledger.open(f"sqlite:///{folder / 'ledger.sqlite3'}").close()
    return folder / "ledger.sqlite3"

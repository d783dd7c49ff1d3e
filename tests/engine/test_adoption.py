"""A lost or emptied ledger re-adopts what an earlier one wrote instead of writing it again,
and what the user deleted stays deleted (docs/architecture.md, "Exactly once")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete

from engine.world import T0, World, make_config, meeting, person
from followup.ledger import Ledger, WriteState, schema
from followup.model import WriteKind
from followup.providers.memory import MemoryProvider

AFTER = T0 + timedelta(hours=1, minutes=15)
PEOPLE = [person(f"p{i}@client{i}.example", f"Person {i}") for i in range(5)]


def _empty(ledger: Ledger) -> None:
    """The ledger is lost: a restored old backup, a volume recreated, a file deleted."""
    with ledger._engine.begin() as conn:
        for table in reversed(schema.metadata.sorted_tables):
            conn.execute(delete(table))


def _world(ledger: Ledger) -> World:
    world = World(ledger, MemoryProvider("work", self_addresses=["ada@engines.example"]),
                  make_config())
    world.provider.add_meeting(meeting("m1@acme.example", T0, PEOPLE))
    return world


def test_an_emptied_ledger_does_not_rewrite_the_drafts_the_user_deleted(ledger: Ledger) -> None:
    world = _world(ledger)
    world.cycle(AFTER)
    p = world.provider
    assert (len(p.contacts), len(p.drafts), len(p.live_blocks())) == (5, 5, 1)
    deleted = sorted(p.drafts)[:3]
    for rid in deleted:
        p.delete(WriteKind.DRAFT, rid)
    before = p.snapshot()

    _empty(ledger)
    report = world.cycle(AFTER + timedelta(minutes=10))

    assert p.snapshot() == before, "nothing new, nothing back"
    assert report.written(WriteKind.DRAFT, "dismissed") == 3
    assert report.written(WriteKind.DRAFT, "existed") == 2
    assert report.written(WriteKind.CONTACT, "existed") == 5
    assert report.written(WriteKind.BLOCK, "existed") == 1
    assert not any(outcome == "created" for (_, outcome) in report.writes)
    drafts = ledger.writes("work")
    assert sorted(r.state.value for r in drafts if r.kind is WriteKind.DRAFT) == [
        "dismissed", "dismissed", "dismissed", "done", "done"]
    # Adopted: later cycles are ordinary again (no lookups before new writes).
    assert not ledger.adopting("work")
    p.calls.clear()
    world.cycle(AFTER + timedelta(minutes=20))
    assert dict(p.calls) == {"source.changes": 1}


def test_a_new_user_is_written_to_without_extra_lookups(ledger: Ledger) -> None:
    world = _world(ledger)
    assert ledger.adopting("work")
    report = world.cycle(AFTER)
    p = world.provider
    assert (len(p.contacts), len(p.drafts), len(p.live_blocks())) == (5, 5, 1)
    assert report.written(WriteKind.DRAFT, "created") == 5
    assert p.calls["drafts.state"] == 0 and p.calls["blocks.state"] == 0
    assert not ledger.adopting("work")


def test_a_crash_during_adoption_never_turns_an_unwritten_draft_into_dismissed(
    ledger: Ledger,
) -> None:
    """The contact was written, then the process died before the ledger heard of it: on the
    retry the contact is found (EXISTED), but by this ledger's own attempt, not an earlier
    ledger's: the draft was never written and must be."""

    class Crash(BaseException):
        pass

    world = _world(ledger)

    def crash_after_first_contact(point: str, row: object) -> None:
        if point == "after_write" and getattr(row, "kind", None) is WriteKind.CONTACT:
            raise Crash

    with pytest.raises(Crash):
        world.cycle(AFTER, hook=crash_after_first_contact)
    assert ledger.adopting("work"), "an interrupted pass is no completed adoption"
    world.cycle(AFTER + timedelta(minutes=5))
    p = world.provider
    assert (len(p.contacts), len(p.drafts), len(p.live_blocks())) == (5, 5, 1)
    assert all(r.state is WriteState.DONE for r in ledger.writes("work"))


def test_a_new_ledger_facing_untouched_outputs_adopts_them_all(ledger: Ledger) -> None:
    world = _world(ledger)
    world.cycle(AFTER)
    before = world.provider.snapshot()
    _empty(ledger)
    report = world.cycle(AFTER + timedelta(minutes=10))
    assert world.provider.snapshot() == before
    assert set(outcome for (_, outcome) in report.writes) == {"existed"}

"""`followup undo`: everything we wrote goes, what the user made or changed stays."""

from __future__ import annotations

from datetime import timedelta

from engine.world import BOB, JANE, T0, World, meeting
from followup.engine.undo import undo
from followup.ledger import WriteState
from followup.model import WriteKind

AFTER = T0 + timedelta(hours=1, minutes=15)


def test_undo_leaves_the_provider_as_it_was_before_the_first_cycle(world: World) -> None:
    p = world.provider
    p.add_contact(JANE.email, "Jane Doe", "Jane's own note")  # the user's card: annotated
    p.add_meeting(meeting("m1@acme.example", T0, [JANE, BOB]))
    before = p.snapshot()
    world.cycle(AFTER)
    # Meeting Bob again puts a second note of ours on the card we created for him.
    later = T0 + timedelta(days=1)
    p.add_meeting(meeting("m2@acme.example", later, [BOB], title="Pilot kickoff"))
    world.cycle(later + timedelta(hours=2))
    assert p.snapshot() != before

    report = undo(world.ledger, world.account)

    assert p.snapshot() == before
    assert not report.kept and not report.errors
    assert len(report.removed) == 6  # 2 contacts + 1 "met again" note, 2 drafts, 1 block
    assert [n.text for n in p.contacts_for(JANE.email)[0].notes] == ["Jane's own note"]
    left = world.ledger.writes(world.account.name, states=[WriteState.DONE])
    assert left == []


def test_what_the_user_edited_or_deleted_is_reported_and_left_alone(world: World) -> None:
    p = world.provider
    p.add_meeting(meeting("m1@acme.example", T0, [JANE, BOB]))
    world.cycle(AFTER)
    (jane_draft,) = p.drafts_to(JANE.email)
    (bob_draft,) = p.drafts_to(BOB.email)
    p.edit(WriteKind.DRAFT, jane_draft.remote_id)
    p.delete(WriteKind.DRAFT, bob_draft.remote_id)

    report = undo(world.ledger, world.account)

    assert [r.person for r in report.kept] == [JANE.email]
    assert [r.person for r in report.gone] == [BOB.email]
    assert list(p.drafts.values()) == [jane_draft]
    assert p.contacts == {} and p.live_blocks() == []


def test_undo_twice_removes_nothing_more(world: World) -> None:
    world.provider.add_meeting(meeting("m1@acme.example", T0, [JANE]))
    world.cycle(AFTER)
    undo(world.ledger, world.account)
    world.provider.calls.clear()
    again = undo(world.ledger, world.account)
    assert not again.removed and not again.gone
    assert sum(world.provider.calls.values()) == 0


def test_after_undo_a_cycle_does_not_write_it_all_again(world: World) -> None:
    world.provider.add_meeting(meeting("m1@acme.example", T0, [JANE]))
    world.cycle(AFTER)
    undo(world.ledger, world.account)
    world.cycle(AFTER + timedelta(minutes=5))
    assert world.provider.snapshot() == {"contacts": [], "drafts": [], "blocks": []}

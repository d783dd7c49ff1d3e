"""[drafts] hold_offers: the times a draft offers are held on the calendar as tentative
events, one draft's each, and released when the draft is deleted unsent or the hold lapses."""

from __future__ import annotations

from datetime import timedelta

from engine.world import JANE, T0, World, make_config, meeting
from followup.config import DraftsConfig
from followup.model import WriteKind

AFTER = T0 + timedelta(hours=1, minutes=15)


def holding(world: World) -> World:
    world.config = make_config().model_copy(update={"drafts": DraftsConfig(hold_offers=True)})
    return world


def test_offered_times_are_held_as_tentative_events(world: World) -> None:
    holding(world).provider.add_meeting(meeting("m1@acme.example", T0, [JANE]))
    world.cycle(AFTER)
    holds = [b for b in world.provider.live_blocks() if b.summary.startswith("Held for")]
    assert len(holds) == 3
    (draft,) = world.provider.drafts_to(JANE.email)
    slot_lines = [line for line in draft.body.splitlines() if line.startswith("- ")]
    assert len(slot_lines) == 3
    rows = [r for r in world.ledger.writes(world.account.name) if r.kind is WriteKind.BLOCK]
    assert sum(1 for r in rows if getattr(r.payload, "tentative", False)) == 3
    # The first-touch block never sits on a held time.
    (block,) = [b for b in world.provider.live_blocks() if not b.summary.startswith("Held")]
    assert not any(h.start < block.end and block.start < h.end for h in holds)


def test_a_draft_deleted_unsent_releases_its_holds(world: World) -> None:
    holding(world).provider.add_meeting(meeting("m1@acme.example", T0, [JANE]))
    world.cycle(AFTER)
    (draft,) = world.provider.drafts_to(JANE.email)
    world.provider.delete(WriteKind.DRAFT, draft.remote_id)
    world.cycle(AFTER + timedelta(minutes=5))
    assert not [b for b in world.provider.live_blocks() if b.summary.startswith("Held for")]


def test_a_sent_draft_keeps_its_holds_until_the_hold_lapses(world: World) -> None:
    holding(world).provider.add_meeting(meeting("m1@acme.example", T0, [JANE]))
    world.cycle(AFTER)
    (draft,) = world.provider.drafts_to(JANE.email)
    world.provider.send_draft(draft.remote_id, AFTER + timedelta(minutes=2))
    world.cycle(AFTER + timedelta(minutes=5))
    held = [b for b in world.provider.live_blocks() if b.summary.startswith("Held for")]
    assert len(held) == 3
    world.cycle(AFTER + timedelta(hours=73))  # offer_hold_hours (72) have passed
    later = [b for b in world.provider.live_blocks() if b.summary.startswith("Held for")]
    assert [b for b in later if b.start > AFTER + timedelta(hours=73)] == []


def test_a_cycle_is_due_when_a_hold_lapses(world: World) -> None:
    """The daemon sleeps until next_due (and an idle `run --once` answers from its snapshot
    until then): a hold lapsing must be a due time, or its tentative event outlives it."""
    holding(world).provider.add_meeting(meeting("m1@acme.example", T0, [JANE]))
    world.cycle(AFTER)
    (draft,) = world.provider.drafts_to(JANE.email)
    world.provider.send_draft(draft.remote_id, AFTER + timedelta(minutes=2))
    report = world.cycle(AFTER + timedelta(minutes=5))
    lapse = AFTER + timedelta(hours=72)  # offer_hold_hours after the draft was planned
    held = [b for b in world.provider.live_blocks() if b.summary.startswith("Held for")]
    assert any(b.start > lapse for b in held)  # a hold that must go before its slot comes
    assert report.next_due == lapse

"""Offered slots in the ledger: held across cycles and processes, released when the draft is
gone, the slot is over or the hold passes (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

from followup.ledger import Ledger
from followup.model import Interval, WriteKind, WriteOutcome, WriteResult

from .conftest import T0
from .test_writes import intent

SLOT = Interval(T0 + timedelta(days=1), T0 + timedelta(days=1, minutes=30))
LATER = Interval(T0 + timedelta(days=2), T0 + timedelta(days=2, minutes=30))
HOLD = T0 + timedelta(days=3)


def test_offers_are_held_once_even_when_recorded_again(ledger: Ledger) -> None:
    ledger.record_offers("a", "k1", [SLOT, LATER], HOLD)
    ledger.record_offers("a", "k1", [SLOT, LATER], HOLD)  # a replanned draft after a crash
    assert sorted(o.interval.start for o in ledger.live_offers("a", T0)) == [
        SLOT.start, LATER.start]
    assert ledger.offers_of("a", ["k1"]) == {"k1": [SLOT, LATER]}
    assert ledger.live_offers("b", T0) == []


def test_an_offer_lapses_when_its_slot_is_over_or_its_hold_passes(ledger: Ledger) -> None:
    ledger.record_offers("a", "k1", [SLOT, LATER], T0 + timedelta(days=1, hours=12))
    # Under way it still holds (it may be the call they booked); over, it is free.
    assert len(ledger.live_offers("a", SLOT.start)) == 2
    assert [o.start for o in ledger.live_offers("a", SLOT.end)] == [LATER.start]
    assert ledger.live_offers("a", T0 + timedelta(days=1, hours=12)) == []
    assert ledger.prune_offers("a", T0 + timedelta(days=5)) == 2


def test_a_draft_the_user_deleted_frees_its_slots(ledger: Ledger) -> None:
    draft = intent(WriteKind.DRAFT)
    ledger.record_intents("a", [draft])
    ledger.record_offers("a", draft.key, [SLOT], HOLD)
    ledger.begin_attempt(draft.key)
    ledger.finish(draft.key, WriteResult(WriteOutcome.DISMISSED))
    assert ledger.live_offers("a", T0) == []
    ledger.record_offers("a", "k2", [SLOT], HOLD)
    assert ledger.release_offers("a", "k2") == 1
    assert ledger.live_offers("a", T0) == []

"""The writes table: intents recorded once, attempted in order, finished exactly once."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from followup import keys
from followup.ledger import Ledger, LedgerError, WriteNotPendingError, WriteState
from followup.model import (
    BlockPayload,
    ContactPayload,
    DraftPayload,
    Payload,
    RemoveOutcome,
    WriteIntent,
    WriteKind,
    WriteOutcome,
    WriteResult,
)

from .conftest import T0, Clock

HOUR = timedelta(hours=1)


def payload(kind: WriteKind, person: str) -> Payload:
    if kind is WriteKind.CONTACT:
        return ContactPayload(person, "Jane Doe", "Jane", "Doe", "Acme", note="Met at Coffee")
    if kind is WriteKind.DRAFT:
        return DraftPayload(
            to=(("Jane Doe", person),),
            subject="Good to meet you",
            body="Hi Jane,\n",
            message_id="<k@followup.invalid>",
        )
    return BlockPayload("Send follow-up to Jane Doe", "Draft in Drafts", T0 + HOUR, T0 + 2 * HOUR)


def intent(
    kind: WriteKind,
    person: str = "jane@acme.test",
    *,
    due: datetime = T0,
    uid: str = "m1",
    touch: int = 0,
) -> WriteIntent:
    return WriteIntent(
        key=keys.touch_key("a", uid, T0, person, touch, kind.value),
        kind=kind,
        payload=payload(kind, person),
        due=due,
        person=person,
        meeting_uid=uid,
        occurrence=T0,
        touch=touch,
    )


def first_touch(person: str = "jane@acme.test", due: datetime = T0) -> list[WriteIntent]:
    return [
        intent(k, person, due=due) for k in (WriteKind.BLOCK, WriteKind.DRAFT, WriteKind.CONTACT)
    ]


def test_recorded_intents_come_back_as_pending_rows(ledger: Ledger, clock: Clock) -> None:
    intents = first_touch()
    assert ledger.record_intents("a", intents) == 3
    rows = ledger.writes("a")
    assert {r.intent() for r in rows} == set(intents)
    assert {(r.state, r.attempts, r.account, r.created_at) for r in rows} == {
        (WriteState.PENDING, 0, "a", clock.now)
    }


def test_recording_again_adds_nothing_and_never_resets_state(ledger: Ledger) -> None:
    contact, *rest = sorted(first_touch(), key=lambda i: i.kind != WriteKind.CONTACT)
    ledger.record_intents("a", [contact])
    ledger.begin_attempt(contact.key)
    ledger.finish(contact.key, WriteResult(WriteOutcome.DISMISSED))
    assert ledger.record_intents("a", [contact, *rest, *rest]) == 2
    assert ledger.record_intents("a", [contact, *rest]) == 0
    assert ledger.record_intents("a", []) == 0
    (row,) = [r for r in ledger.writes("a") if r.key == contact.key]
    assert row.state is WriteState.DISMISSED
    assert row.attempts == 1


def test_a_payload_of_the_wrong_kind_is_refused(ledger: Ledger) -> None:
    bad = WriteIntent("k", WriteKind.DRAFT, payload(WriteKind.BLOCK, "x"), T0, "x")
    with pytest.raises(ValueError, match="payload"):
        ledger.record_intents("a", [bad])
    assert ledger.writes("a") == []


def test_pending_orders_contact_draft_block_per_person(ledger: Ledger) -> None:
    ledger.record_intents("a", first_touch("bob@beta.test", due=T0 - HOUR))
    ledger.record_intents("a", first_touch("jane@acme.test", due=T0 - 2 * HOUR))
    rows = ledger.pending("a", T0)
    assert [(r.person, r.kind) for r in rows] == [
        ("jane@acme.test", WriteKind.CONTACT),
        ("jane@acme.test", WriteKind.DRAFT),
        ("jane@acme.test", WriteKind.BLOCK),
        ("bob@beta.test", WriteKind.CONTACT),
        ("bob@beta.test", WriteKind.DRAFT),
        ("bob@beta.test", WriteKind.BLOCK),
    ]


def test_pending_waits_for_due_and_for_retry_at(ledger: Ledger) -> None:
    later = intent(WriteKind.DRAFT, due=T0 + HOUR)
    retried = intent(WriteKind.CONTACT)
    ledger.record_intents("a", [later, retried])
    ledger.begin_attempt(retried.key)
    ledger.fail(retried.key, "503 from server", retry_at=T0 + 2 * HOUR)
    assert ledger.pending("a", T0) == []
    assert [r.key for r in ledger.pending("a", T0 + HOUR)] == [later.key]
    assert {r.key for r in ledger.pending("a", T0 + 2 * HOUR)} == {later.key, retried.key}
    assert ledger.pending("other", T0 + 2 * HOUR) == []


def test_next_due_is_the_earliest_moment_a_write_can_go(ledger: Ledger) -> None:
    assert ledger.next_due("a") is None
    first, second = intent(WriteKind.CONTACT, due=T0), intent(WriteKind.DRAFT, due=T0 + 3 * HOUR)
    ledger.record_intents("a", [first, second])
    assert ledger.next_due("a") == T0
    ledger.begin_attempt(first.key)
    ledger.fail(first.key, "timeout", retry_at=T0 + 5 * HOUR)
    assert ledger.next_due("a") == T0 + 3 * HOUR


def test_begin_attempt_commits_the_count_before_the_call(ledger_url: str, clock: Clock) -> None:
    w = intent(WriteKind.DRAFT)
    with Ledger.open(ledger_url, clock=clock) as first:
        first.record_intents("a", [w])
        assert first.begin_attempt(w.key).attempts == 1
        # "crash" here: the remote call may or may not have happened
    with Ledger.open(ledger_url, clock=clock) as second:
        (row,) = second.pending("a", T0)
        assert row.attempts == 1
        assert second.begin_attempt(w.key).attempts == 2  # > 1: the provider looks the key up


def test_finish_records_the_outcome(ledger: Ledger, clock: Clock) -> None:
    ws = first_touch()
    ledger.record_intents("a", ws)
    outcomes = [WriteOutcome.CREATED, WriteOutcome.EXISTED, WriteOutcome.ANNOTATED]
    for w in ws:
        ledger.begin_attempt(w.key)
    clock.advance(minutes=5)
    for w, outcome in zip(ws, outcomes, strict=True):
        ledger.finish(w.key, WriteResult(outcome, remote_id=f"id-{w.kind}", fingerprint="f1"))
    rows = {r.key: r for r in ledger.writes("a")}
    for w, outcome in zip(ws, outcomes, strict=True):
        row = rows[w.key]
        assert (row.state, row.outcome, row.remote_id, row.fingerprint) == (
            WriteState.DONE,
            outcome.value,
            f"id-{w.kind}",
            "f1",
        )
        assert row.done_at == clock.now
    assert ledger.pending("a", T0 + 10 * HOUR) == []


def test_dismissed_is_final(ledger: Ledger) -> None:
    w = intent(WriteKind.BLOCK)
    ledger.record_intents("a", [w])
    ledger.begin_attempt(w.key)
    ledger.finish(w.key, WriteResult(WriteOutcome.DISMISSED))
    assert ledger.writes("a", states=[WriteState.DISMISSED])[0].key == w.key
    with pytest.raises(WriteNotPendingError):
        ledger.begin_attempt(w.key)
    ledger.finish(w.key, WriteResult(WriteOutcome.CREATED))  # a late duplicate is ignored
    assert ledger.writes("a")[0].state is WriteState.DISMISSED


def test_failures_retry_until_max_attempts_then_give_up(ledger_url: str, clock: Clock) -> None:
    w = intent(WriteKind.DRAFT)
    with Ledger.open(ledger_url, clock=clock, max_attempts=3) as ledger:
        ledger.record_intents("a", [w])
        for attempt in (1, 2):
            assert ledger.begin_attempt(w.key).attempts == attempt
            ledger.fail(w.key, f"error {attempt}", retry_at=None)
            (row,) = ledger.pending("a", T0)
            assert (row.state, row.last_error) == (WriteState.PENDING, f"error {attempt}")
        ledger.begin_attempt(w.key)
        ledger.fail(w.key, "error 3", retry_at=T0 + HOUR)
        (row,) = ledger.writes("a")
        assert (row.state, row.attempts, row.last_error) == (WriteState.FAILED, 3, "error 3")
        assert ledger.pending("a", T0 + 2 * HOUR) == []


def test_a_permanent_failure_gives_up_at_once(ledger: Ledger) -> None:
    w = intent(WriteKind.CONTACT)
    ledger.record_intents("a", [w])
    ledger.begin_attempt(w.key)
    ledger.fail(w.key, "400 invalid address", retry_at=None, permanent=True)
    assert ledger.writes("a")[0].state is WriteState.FAILED


def test_a_success_after_failures_clears_the_error(ledger: Ledger) -> None:
    w = intent(WriteKind.CONTACT)
    ledger.record_intents("a", [w])
    ledger.begin_attempt(w.key)
    ledger.fail(w.key, "x" * 10_000, retry_at=T0)
    assert len(ledger.writes("a")[0].last_error or "") == 2000
    ledger.begin_attempt(w.key)
    ledger.finish(w.key, WriteResult(WriteOutcome.EXISTED))
    (row,) = ledger.writes("a")
    assert (row.state, row.last_error, row.retry_at, row.attempts) == (
        WriteState.DONE,
        None,
        None,
        2,
    )


def test_unknown_keys_are_errors(ledger: Ledger) -> None:
    for call in (
        lambda: ledger.begin_attempt("nope"),
        lambda: ledger.finish("nope", WriteResult(WriteOutcome.CREATED)),
        lambda: ledger.fail("nope", "e", None),
        lambda: ledger.mark_removed("nope", RemoveOutcome.REMOVED),
    ):
        with pytest.raises(LedgerError, match="nope"):
            call()
    assert ledger.write("nope") is None


def test_writes_filters_by_state_and_account(ledger: Ledger, clock: Clock) -> None:
    done, pending = intent(WriteKind.CONTACT), intent(WriteKind.DRAFT)
    ledger.record_intents("a", [done])
    clock.advance(seconds=1)
    ledger.record_intents("a", [pending])
    ledger.record_intents("b", [intent(WriteKind.BLOCK, "bob@beta.test")])
    ledger.begin_attempt(done.key)
    ledger.finish(done.key, WriteResult(WriteOutcome.CREATED))
    assert [r.key for r in ledger.writes("a")] == [done.key, pending.key]
    assert [r.key for r in ledger.writes("a", states=[WriteState.DONE])] == [done.key]
    assert [r.key for r in ledger.writes("a", states={WriteState.PENDING, WriteState.FAILED})] == [
        pending.key
    ]
    assert ledger.writes("a", states=[]) == []
    assert [r.person for r in ledger.writes("b")] == ["bob@beta.test"]
    assert ledger.write(done.key) == ledger.writes("a")[0]


def test_mark_removed_ends_a_write_unless_the_user_kept_it(ledger: Ledger) -> None:
    removed, gone, kept = first_touch()
    ledger.record_intents("a", [removed, gone, kept])
    for w in (removed, gone, kept):
        ledger.begin_attempt(w.key)
        ledger.finish(w.key, WriteResult(WriteOutcome.CREATED))
    ledger.mark_removed(removed.key, RemoveOutcome.REMOVED)
    ledger.mark_removed(gone.key, RemoveOutcome.GONE)
    ledger.mark_removed(kept.key, RemoveOutcome.KEPT)
    states = {r.key: (r.state, r.outcome) for r in ledger.writes("a")}
    assert states == {
        removed.key: (WriteState.REMOVED, "removed"),
        gone.key: (WriteState.REMOVED, "gone"),
        kept.key: (WriteState.DONE, "kept"),
    }
    assert ledger.record_intents("a", [removed, gone, kept]) == 0  # undone stays undone


def test_removing_a_pending_write_stops_it(ledger: Ledger) -> None:
    w = intent(WriteKind.BLOCK)
    ledger.record_intents("a", [w])
    ledger.mark_removed(w.key, RemoveOutcome.GONE)
    assert ledger.pending("a", T0 + HOUR) == []
    with pytest.raises(WriteNotPendingError):
        ledger.begin_attempt(w.key)


def test_weekly_block_without_person_or_meeting(ledger: Ledger) -> None:
    weekly = WriteIntent(
        key=keys.weekly_key("a", T0),
        kind=WriteKind.BLOCK,
        payload=payload(WriteKind.BLOCK, ""),
        due=T0,
        person="",
    )
    ledger.record_intents("a", [weekly])
    (row,) = ledger.pending("a", T0)
    assert row.intent() == weekly
    assert row.occurrence is None

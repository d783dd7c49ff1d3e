"""Throttling, server errors, lost answers and random faults: still exactly once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from followup import keys
from followup.errors import TransientError
from followup.metrics import REQUESTS
from followup.model import (
    BlockPayload,
    ContactPayload,
    DraftPayload,
    Interval,
    WriteOutcome,
    WriteResult,
)
from followup.protocols import Account

from .conftest import MsWorld

T0 = datetime(2025, 3, 10, 14, 0, tzinfo=UTC)


def key(kind: str, person: str = "jane@acme.example") -> str:
    return keys.touch_key("work", "m1@x", T0, person, 0, kind)


def contact(person: str = "jane@acme.example") -> ContactPayload:
    return ContactPayload(email=person, display_name="Jane Doe", given_name="Jane",
                          family_name="Doe", organization="Acme",
                          note="Met at Pilot review, 10 Mar 2025")


def draft(person: str = "jane@acme.example") -> DraftPayload:
    return DraftPayload(to=(("Jane Doe", person),), subject="Pilot review",
                        body="Hi Jane,\n\nThanks.\n", message_id=keys.message_id(key("draft")))


def block() -> BlockPayload:
    return BlockPayload(summary="Send follow-up to Jane Doe, Acme", description="Drafts",
                        start=T0 + timedelta(hours=20), end=T0 + timedelta(hours=20, minutes=15))


def requests_counted(endpoint: str, status: str) -> float:
    return REQUESTS.labels(provider="microsoft", endpoint=endpoint, status=status)._value.get()


def test_429_waits_for_retry_after_then_succeeds(ms: MsWorld, account: Account) -> None:
    ms.graph.fail("POST", "/me/messages", "429", retry_after="7")
    before = requests_counted("messages.create", "429")
    result = account.drafts.ensure(key("draft"), draft(), recovering=False)
    assert result.outcome is WriteOutcome.CREATED
    assert ms.sleeps == [7.0]
    assert len(ms.graph.drafts()) == 1
    assert requests_counted("messages.create", "429") == before + 1


def test_503_without_retry_after_backs_off(ms: MsWorld, account: Account) -> None:
    ms.graph.fail("GET", "/me/contacts", "503", times=2, retry_after=None)
    account.contacts.ensure(key("contact"), contact(), recovering=False)
    assert len(ms.sleeps) == 2 and all(0 <= s <= 30 for s in ms.sleeps)
    assert len(ms.graph.contacts) == 1


def test_throttled_for_good_is_a_transient_error(ms: MsWorld, account: Account) -> None:
    ms.graph.fail("GET", "/me/contacts", "429", times=50, retry_after="1")
    with pytest.raises(TransientError) as err:
        account.contacts.ensure(key("contact"), contact(), recovering=False)
    assert err.value.retry_after == 1.0
    assert len(ms.sleeps) == ms.cfg.max_attempts - 1
    assert ms.graph.contacts == {}


def test_a_long_retry_after_is_left_to_the_engine(ms: MsWorld, account: Account) -> None:
    ms.graph.fail("GET", "/me/contacts", "429", retry_after="3600")
    with pytest.raises(TransientError) as err:
        account.contacts.ensure(key("contact"), contact(), recovering=False)
    assert err.value.retry_after == 3600.0 and ms.sleeps == []


def test_batch_items_throttled_inside_the_envelope_are_retried(
    ms: MsWorld, account: Account
) -> None:
    people = [f"p{i}@example.org" for i in range(12)]  # 24 queries: two envelopes
    for p in people[:3]:
        ms.graph.add_message("inbox", sender=p, to=[ms.graph.me], subject="Hi",
                             at=T0 + timedelta(hours=1))
    ms.graph.fail("GET", "/me/messages$", "429", times=2, retry_after="2")
    found = account.mail.last_interactions(people, since=T0)
    assert sorted(found) == people[:3]
    assert ms.sleeps == [2.0]  # the two throttled items went again together, once
    assert ms.graph.routes["$batch"] == 3


def test_event_create_replayed_after_a_lost_answer_is_one_event(
    ms: MsWorld, account: Account
) -> None:
    ms.graph.fail("POST", "/me/events", "lost")
    result = account.blocks.ensure(key("block"), block(), recovering=False)
    assert result.outcome is WriteOutcome.CREATED
    assert len(ms.graph.blocks()) == 1  # the transactionId made the replay a no-op
    assert ms.graph.routes["events.create"] == 2


@pytest.mark.parametrize("kind", ["draft", "contact"])
def test_create_with_a_lost_answer_is_found_on_recovery(
    ms: MsWorld, account: Account, kind: str
) -> None:
    target = {"draft": account.drafts, "contact": account.contacts}[kind]
    payload = {"draft": draft(), "contact": contact()}[kind]
    store = {"draft": ms.graph.drafts, "contact": lambda: list(ms.graph.contacts.values())}
    ms.graph.fail("POST", {"draft": "/me/messages", "contact": "/me/contacts"}[kind], "lost")
    with pytest.raises(TransientError):  # not sent again blindly: it may have been applied
        target.ensure(key(kind), payload, recovering=False)
    assert len(store[kind]()) == 1
    found = target.ensure(key(kind), payload, recovering=True)
    assert found.outcome is WriteOutcome.EXISTED
    assert len(store[kind]()) == 1


def test_at_most_four_requests_in_flight(ms: MsWorld, account: Account) -> None:
    state = {"now": 0, "max": 0}
    lock = threading.Lock()
    release = threading.Event()
    original = ms.graph.handle

    def slow(method: str, target: str, body: object, **kw: object):  # type: ignore[no-untyped-def]
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        release.wait(0.2)  # hold the slot so that the client's other threads pile up
        try:
            return original(method, target, body, **kw)  # type: ignore[arg-type]
        finally:
            with lock:
                state["now"] -= 1

    ms.graph.handle = slow  # type: ignore[method-assign]
    window = Interval(T0, T0 + timedelta(hours=1))
    threads = [threading.Thread(target=account.availability.busy, args=(window,))
               for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 1 <= state["max"] <= 4


def test_random_faults_still_write_each_object_exactly_once(
    ms: MsWorld, account: Account
) -> None:
    ms.graph.random_faults(0.2, seed=20)
    people = [f"person{i}@example.org" for i in range(12)]
    targets = [("contact", account.contacts, contact), ("draft", account.drafts, draft),
               ("block", account.blocks, lambda p: block())]
    for p in people:
        for kind, target, make in targets:
            k = key(kind, p)
            attempts = 0
            result: WriteResult | None = None
            while result is None:  # what the engine does, across cycles
                attempts += 1
                try:
                    result = target.ensure(k, make(p), recovering=attempts > 1)
                except TransientError:
                    assert attempts < 20
    assert len(ms.graph.contacts) == len(people)
    assert len(ms.graph.drafts()) == len(people)
    assert len(ms.graph.blocks()) == len(people)
    assert not ms.graph.sent_anything()
    assert all(ms.graph.injected[k] > 0 for k in ("429", "503", "drop", "lost")), ms.graph.injected


def test_blocks_in_a_named_calendar_are_found_there(ms: MsWorld) -> None:
    ms.cfg = ms.cfg.model_copy(update={"followup_calendar": "Follow-ups"})
    ms.connect()
    account = ms.open()
    ms.graph.fail("POST", "/events$", "lost", times=5)  # every create answer is lost
    with pytest.raises(TransientError):
        account.blocks.ensure(key("block"), block(), recovering=False)
    found = account.blocks.ensure(key("block"), block(), recovering=True)
    assert found.outcome is WriteOutcome.EXISTED
    [calendar] = ms.graph.calendars.values()
    assert calendar["name"] == "Follow-ups"
    assert [e["_calendar"] for e in ms.graph.blocks()] == [calendar["id"]]
    assert ms.graph.routes["calendars.create"] == 1


def test_the_users_own_card_is_never_taken_for_ours(ms: MsWorld, account: Account) -> None:
    ms.graph.add_contact("jane@acme.example", "Jane Doe", "Jane's own note")
    first = account.contacts.ensure(key("contact"), contact(), recovering=False)
    assert first.outcome is WriteOutcome.ANNOTATED
    # The answer was lost, say: the retry finds our note, not a card of ours.
    again = account.contacts.ensure(key("contact"), contact(), recovering=True)
    assert again.outcome is WriteOutcome.EXISTED
    assert again.fingerprint == first.fingerprint
    account.contacts.remove(key("contact"), again.remote_id, again.fingerprint)
    [card] = ms.graph.contacts.values()
    assert card["personalNotes"] == "Jane's own note"

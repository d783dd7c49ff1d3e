"""One cycle for one account, against the memory twin and a real ledger (SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.world import BOB, CHARLES, JANE, ME, T0, World, make_config, meeting, person
from followup.errors import AuthError, TransientError
from followup.ledger import WriteState
from followup.model import Attendee, CUType, Meeting, PartStat, WriteKind
from followup.providers.memory import Faults, MemoryProvider

AFTER = T0 + timedelta(hours=1, minutes=15)  # the meeting ended 15 minutes ago


def counts(world: World) -> tuple[int, int, int]:
    p = world.provider
    return len(p.contacts), len(p.drafts), len(p.live_blocks())


def test_after_a_meeting_each_new_person_gets_a_contact_and_a_draft_and_it_one_block(
    world: World,
) -> None:
    world.provider.add_meeting(meeting("m1@acme.example", T0, [JANE, BOB, CHARLES]))
    report = world.cycle(AFTER)

    assert counts(world) == (2, 2, 1)
    assert {d.to[0][1] for d in world.provider.drafts.values()} == {JANE.email, BOB.email}
    assert report.meetings_synced == 1 and report.meetings_processed == 1
    assert report.written(WriteKind.CONTACT, "created") == 2
    assert report.written(WriteKind.DRAFT, "created") == 2
    assert report.written(WriteKind.BLOCK, "created") == 1
    assert ("internal", CHARLES.email) in {(s.code, s.email) for _, s in report.skips}
    (block,) = world.provider.live_blocks()
    assert block.start >= AFTER
    assert block.summary == "Send 2 follow-ups from Roadmap review"
    # The block links each draft (written before it) and keeps the private notes.
    assert "[draft " not in block.description
    assert block.description.count("Draft: memory://drafts/") == 2
    assert "We talked about the pilot." in block.description
    assert "Also there: Charles Babbage" in block.description


def test_the_block_names_only_people_as_also_there(world: World) -> None:
    room = person("boardroom3@resource.calendar.google.com", "Board Room 3", cutype=CUType.ROOM)
    bot = person("no-reply@scheduler.example", "Calendar notifications")
    gone = Attendee("bill@initech.example", "Bill Lumbergh", PartStat.DECLINED)
    world.provider.add_meeting(meeting("m1@acme.example", T0, [JANE, CHARLES, room, bot, gone]))
    world.cycle(AFTER)
    (block,) = world.provider.live_blocks()
    also = [line for line in block.description.splitlines() if line.startswith("Also there:")]
    # A colleague was there; a room, a no-reply sender, someone who declined and the user
    # were not (people, by triage's own judgement).
    assert also == ["Also there: Charles Babbage, Engines"]


def test_running_a_cycle_twice_creates_nothing_new(world: World) -> None:
    world.provider.add_meeting(meeting("m1@acme.example", T0, [JANE, BOB]))
    world.cycle(AFTER)
    before = world.provider.snapshot()
    report = world.cycle(AFTER + timedelta(minutes=5))
    assert world.provider.snapshot() == before
    assert not report.intents and not report.writes


def test_an_idle_cycle_only_asks_the_sources_for_changes(world: World) -> None:
    world.provider.add_meeting(meeting("m1@acme.example", T0, [JANE, BOB]))
    world.cycle(AFTER)
    world.provider.calls.clear()
    world.cycle(AFTER + timedelta(minutes=5))
    assert dict(world.provider.calls) == {"source.changes": 1}


def test_a_draft_the_user_deleted_is_not_recreated(world: World) -> None:
    world.provider.add_meeting(meeting("m1@acme.example", T0, [JANE]))
    world.cycle(AFTER)
    (draft,) = world.provider.drafts.values()
    world.provider.delete(WriteKind.DRAFT, draft.remote_id)
    for hours in (1, 5, 30):
        world.cycle(AFTER + timedelta(hours=hours))
    assert world.provider.drafts == {}


def test_a_reply_after_the_meeting_cancels_the_draft_but_not_the_contact(world: World) -> None:
    world.provider.add_meeting(meeting("m1@acme.example", T0, [JANE, BOB]))
    world.provider.add_mail(JANE.email, T0 + timedelta(hours=1, minutes=5), "received")
    report = world.cycle(AFTER)

    assert len(world.provider.contacts_for(JANE.email)) == 1
    assert world.provider.drafts_to(JANE.email) == []
    assert len(world.provider.drafts_to(BOB.email)) == 1
    assert len(world.provider.live_blocks()) == 1
    assert (JANE.email, "already_in_touch") in {(s.email, s.code) for _, s in report.skips}


def test_a_meeting_is_acted_on_only_after_its_grace_period(world: World) -> None:
    world.provider.add_meeting(meeting("m1@acme.example", T0, [JANE]))
    early = world.cycle(T0 + timedelta(minutes=65))  # ended 5 minutes ago, grace is 10
    assert counts(world) == (0, 0, 0)
    assert early.next_due == T0 + timedelta(minutes=70)
    world.cycle(early.next_due)
    assert counts(world) == (1, 1, 1)


def test_meeting_someone_again_annotates_their_card_and_drafts_nothing(world: World) -> None:
    world.provider.add_meeting(meeting("m1@acme.example", T0, [JANE]))
    world.cycle(AFTER)
    later = T0 + timedelta(days=2)
    world.provider.add_meeting(meeting("m2@acme.example", later, [JANE], title="Pilot kickoff"))
    report = world.cycle(later + timedelta(hours=2))

    (card,) = world.provider.contacts_for(JANE.email)
    assert [n.text.split(",")[0] for n in card.notes] == [
        "Met at Roadmap review", "Met again at Pilot kickoff"]
    assert report.written(WriteKind.CONTACT, "annotated") == 1
    assert len(world.provider.drafts) == 1
    state = world.ledger.person(world.account.name, JANE.email)
    assert state is not None and state.anchor == later + timedelta(hours=1)


def test_a_recurring_meeting_counts_its_first_occurrence_only(world: World) -> None:
    weekly = [
        meeting("standup@acme.example", T0 + timedelta(days=7 * i), [JANE],
                recurrence_id=T0 + timedelta(days=7 * i), series_start=T0)
        for i in range(2)
    ]
    world.provider.add_meeting(weekly[0])
    world.cycle(AFTER)
    world.provider.add_meeting(weekly[1])
    report = world.cycle(AFTER + timedelta(days=7))
    assert counts(world) == (1, 1, 1)
    assert (JANE.email, "recurring_known") in {(s.email, s.code) for _, s in report.skips}


def test_random_faults_on_every_target_call_still_end_with_one_of_each(
    ledger_url: str,
) -> None:
    from followup.ledger import Ledger

    provider = MemoryProvider("work", self_addresses=[ME],
                              faults=Faults().at_random(0.2, seed=20250310))
    people = [person(f"p{i}@client{i}.example", f"Person {i}") for i in range(6)]
    for i in range(3):
        provider.add_meeting(meeting(f"m{i}@x.example", T0 + timedelta(hours=i),
                                     people[2 * i:2 * i + 2]))
    with Ledger.open(ledger_url) as ledger:
        world = World(ledger, provider, make_config())
        now = T0 + timedelta(hours=3, minutes=15)
        for _ in range(40):
            world.cycle(now)
            if not ledger.pending(world.account.name, now + timedelta(days=1)):
                break
            now += timedelta(hours=1)
        failed = ledger.writes(world.account.name, states=[WriteState.FAILED])
    assert not failed
    for p in people:
        assert len(provider.contacts_for(p.email)) == 1, p.email
        assert len(provider.drafts_to(p.email)) == 1, p.email
    # Meetings ending at 11:00 and 12:00 share the morning's block; 13:00 has its own.
    blocks = sorted(provider.live_blocks(), key=lambda b: b.start)
    assert len(blocks) == 2
    assert blocks[0].end <= blocks[1].start
    # 14 writes (6 contacts, 6 drafts, 2 blocks): more calls than that means faults struck.
    assert sum(n for call, n in provider.calls.items() if call.endswith(".ensure")) > 14


def test_a_lost_response_is_reconciled_by_the_recovering_lookup(ledger_url: str) -> None:
    from followup.ledger import Ledger

    provider = MemoryProvider(
        "work", self_addresses=[ME],
        faults=Faults().on("drafts.ensure", 1, lost_response=True))
    provider.add_meeting(meeting("m1@acme.example", T0, [JANE]))
    with Ledger.open(ledger_url) as ledger:
        world = World(ledger, provider, make_config())
        first = world.cycle(AFTER)
        assert first.written(WriteKind.DRAFT, "failed") == 1
        assert len(provider.drafts) == 1  # it was written; we just never heard back
        assert first.next_due is not None and first.next_due > AFTER
        second = world.cycle(first.next_due)
    assert second.written(WriteKind.DRAFT, "existed") == 1
    assert len(provider.drafts) == 1


class Crash(BaseException):
    """Stands in for the process dying: nothing after it runs, nothing catches it."""


def test_a_crash_between_the_write_and_its_record_is_recovered(world: World) -> None:
    world.provider.add_meeting(meeting("m1@acme.example", T0, [JANE, BOB]))

    def crash_after_first_draft(point: str, row: object) -> None:
        if point == "after_write" and getattr(row, "kind", None) is WriteKind.DRAFT:
            raise Crash

    with pytest.raises(Crash):
        world.cycle(AFTER, hook=crash_after_first_draft)
    report = world.cycle(AFTER + timedelta(minutes=1))
    assert report.written(WriteKind.DRAFT, "existed") == 1
    assert counts(world) == (2, 2, 1)


def test_an_auth_error_stops_that_account_only(world: World) -> None:
    other = MemoryProvider("home", self_addresses=[ME])
    broken = MemoryProvider("work", self_addresses=[ME],
                            faults=Faults().on("drafts.ensure", 1, error=AuthError("revoked")))
    for p in (broken, other):
        p.add_meeting(meeting("m1@acme.example", T0, [JANE, BOB]))

    with pytest.raises(AuthError):
        world.cycle(AFTER, account=broken.account())
    assert len(broken.contacts) == 1 and broken.drafts == {}, "stopped at the failing write"
    waiting = world.ledger.writes("work", states=[WriteState.PENDING])
    assert len(waiting) == 4 and not any(r.last_error for r in waiting)
    world.cycle(AFTER, account=other.account())
    assert (len(other.contacts), len(other.drafts), len(other.live_blocks())) == (2, 2, 1)

    # Reconnected: the same account picks up where it stopped.
    world.cycle(AFTER + timedelta(minutes=5), account=broken.account())
    assert (len(broken.contacts), len(broken.drafts), len(broken.live_blocks())) == (2, 2, 1)


def test_a_failing_source_is_reported_and_the_cycle_goes_on(world: World) -> None:
    world.provider.add_meeting(meeting("m1@acme.example", T0, [JANE]))
    world.provider.faults.on("source.changes", 1, error=TransientError("503"))
    report = world.cycle(AFTER)
    assert report.errors and "503" in report.errors[0]
    world.cycle(AFTER + timedelta(minutes=5))
    assert counts(world) == (1, 1, 1)


def test_mail_history_down_defers_the_meeting_to_the_next_cycle(world: World) -> None:
    world.provider.add_meeting(meeting("m1@acme.example", T0, [JANE]))
    world.provider.faults.on("mail.last_interactions", 1)
    first = world.cycle(AFTER)
    assert first.meetings_processed == 0 and counts(world) == (0, 0, 0)
    world.cycle(AFTER + timedelta(minutes=5))
    assert counts(world) == (1, 1, 1)


def test_a_dry_run_writes_nothing_and_leaves_the_ledger_as_it_was(world: World) -> None:
    world.provider.add_meeting(meeting("m1@acme.example", T0, [JANE, BOB]))
    report = world.cycle(AFTER, dry_run=True)
    assert sorted(i.kind.value for i in report.intents) == sorted(
        ["contact", "draft"] * 2 + ["block"])
    assert counts(world) == (0, 0, 0)
    name = world.account.name
    assert world.ledger.writes(name) == [] and world.ledger.people(name) == []

    real = world.cycle(AFTER)
    assert [i.key for i in real.intents] == [i.key for i in report.intents]
    assert counts(world) == (2, 2, 1)


def test_next_due_is_the_next_meeting_end_plus_grace(world: World) -> None:
    world.provider.add_meeting(meeting("later@acme.example", T0 + timedelta(hours=5), [JANE]))
    report = world.cycle(T0)
    assert report.next_due == T0 + timedelta(hours=6, minutes=10)


def test_the_nurture_touch_follows_the_sent_first_touch(ledger_url: str) -> None:
    from followup.ledger import Ledger

    provider = MemoryProvider("work", self_addresses=[ME])
    provider.add_meeting(meeting("m1@acme.example", T0, [JANE]))
    with Ledger.open(ledger_url) as ledger:
        world = World(ledger, provider, make_config(weekly_batch=False))
        world.cycle(AFTER)
        (draft,) = provider.drafts.values()
        sent_at = T0 + timedelta(days=1)
        provider.send_draft(draft.remote_id, sent_at)

        # The mail check comes when the next touch would be due; the send moves the anchor,
        # so the nurture draft follows a cadence after the send, not after the meeting.
        now = T0 + timedelta(days=2)
        for _ in range(5):
            report = world.cycle(now)
            if provider.drafts:
                break
            assert report.next_due is not None
            now = report.next_due
        state = ledger.person(world.account.name, JANE.email)
    assert len(provider.drafts_to(JANE.email)) == 1, "one nurture draft"
    assert now >= sent_at + timedelta(days=21)
    assert report.written(WriteKind.DRAFT, "created") == 1
    assert state is not None and state.touches == 2 and state.open_touch


def test_a_reply_moves_the_nurture_anchor_instead_of_drafting(ledger_url: str) -> None:
    from followup.ledger import Ledger

    provider = MemoryProvider("work", self_addresses=[ME])
    provider.add_meeting(meeting("m1@acme.example", T0, [JANE]))
    provider.add_mail(JANE.email, T0 + timedelta(hours=2), "received")  # no first draft
    with Ledger.open(ledger_url) as ledger:
        world = World(ledger, provider, make_config(weekly_batch=False))
        first = world.cycle(AFTER)
        assert first.next_due is not None
        reply = first.next_due - timedelta(days=1)
        provider.add_mail(JANE.email, reply, "received")
        report = world.cycle(first.next_due)
        state = ledger.person(world.account.name, JANE.email)
    assert provider.drafts == {} and not report.intents
    assert state is not None and state.anchor == reply and not state.open_touch
    assert report.next_due is not None and report.next_due > first.next_due


def test_weekly_nurture_touches_share_one_block(ledger_url: str) -> None:
    from followup.ledger import Ledger

    provider = MemoryProvider("work", self_addresses=[ME])
    provider.add_meeting(meeting("m1@acme.example", T0, [JANE, BOB]))
    for p in (JANE, BOB):  # in touch already: no first drafts, the cadence runs from here
        provider.add_mail(p.email, T0 + timedelta(hours=2), "sent")
    with Ledger.open(ledger_url) as ledger:
        world = World(ledger, provider, make_config())
        first = world.cycle(AFTER)
        assert first.next_due is not None
        assert first.next_due.weekday() == 3, "planned the day before the Friday slot"
        report = world.cycle(first.next_due)
    (block,) = provider.live_blocks()
    assert block.start.weekday() == 4 and block.start.hour == 15
    drafted = {d.to[0][1] for d in provider.drafts.values()}
    assert drafted and drafted <= {JANE.email, BOB.email}
    assert all(email in block.description for email in drafted)
    assert report.written(WriteKind.BLOCK, "created") == 1


def test_a_series_first_seen_midway_has_nobody_new_but_a_newcomer_counts(world: World) -> None:
    def occurrence(week: int, people: list[Attendee]) -> Meeting:
        start = T0 + timedelta(days=7 * week)
        return meeting("weekly@acme.example", start, people, recurrence_id=start,
                       series_start=T0 - timedelta(days=21))

    world.provider.add_meeting(occurrence(0, [JANE]))
    first = world.cycle(AFTER)
    assert counts(world) == (0, 0, 0)
    assert (JANE.email, "recurring_seen") in {(s.email, s.code) for _, s in first.skips}

    world.provider.add_meeting(occurrence(1, [JANE, BOB]))
    world.cycle(AFTER + timedelta(days=7))
    assert [c.email for c in world.provider.contacts.values()] == [BOB.email]
    assert len(world.provider.drafts_to(BOB.email)) == 1


def test_one_open_touch_at_a_time_until_its_draft_is_gone(ledger_url: str) -> None:
    from followup.ledger import Ledger

    provider = MemoryProvider("work", self_addresses=[ME])
    provider.add_meeting(meeting("m1@acme.example", T0, [JANE]))
    with Ledger.open(ledger_url) as ledger:
        world = World(ledger, provider, make_config(weekly_batch=False))
        world.cycle(AFTER)
        (first_draft,) = provider.drafts.values()
        due = T0 + timedelta(days=40)  # well past any cadence: the touch is still open
        world.cycle(due)
        assert list(provider.drafts.values()) == [first_draft], "no second touch while open"

        provider.delete(WriteKind.DRAFT, first_draft.remote_id)  # the user decided against it
        report = world.cycle(due + timedelta(hours=1))
        later = world.cycle(due + timedelta(days=60))
        state = ledger.person(world.account.name, JANE.email)
    # A deleted first draft means "not this person" (PLAYBOOK §4): the sequence ends.
    assert provider.drafts == {}
    assert report.written(WriteKind.DRAFT, "created") == 0 and not later.intents
    assert state is not None and state.status == "ended" and not state.open_touch
    assert "deleted the first draft" in state.reason


def test_an_invitation_mail_does_not_make_a_stranger_known(world: World) -> None:
    # The organiser's invitation arrived two days before: still a first meeting.
    world.provider.add_meeting(meeting("m1@acme.example", T0, [JANE]))
    world.provider.add_mail(JANE.email, T0 - timedelta(days=2), "received")
    world.cycle(AFTER)
    (draft,) = world.provider.drafts_to(JANE.email)
    assert "Great to meet you" in draft.body


def test_mail_the_user_sent_before_makes_them_known(world: World) -> None:
    world.provider.add_meeting(meeting("m1@acme.example", T0, [JANE]))
    world.provider.add_mail(JANE.email, T0 - timedelta(days=2), "sent")
    world.cycle(AFTER)
    (draft,) = world.provider.drafts_to(JANE.email)
    assert "meet" not in draft.body.split("\n\n")[1].lower()


def test_two_meetings_with_one_new_person_in_one_cycle_give_one_first_note(
    world: World,
) -> None:
    # A talk, then lunch, both ended before the cycle ran: one first note, a "met again".
    world.provider.add_meeting(meeting("talk@acme.example", T0, [JANE], title="Keynote Q&A"))
    world.provider.add_meeting(meeting("lunch@acme.example", T0 + timedelta(hours=1, minutes=5),
                                       [JANE], title="Lunch", minutes=45))
    world.cycle(T0 + timedelta(hours=2, minutes=30))
    assert len(world.provider.drafts_to(JANE.email)) == 1
    notes = [n.text for c in world.provider.contacts_for(JANE.email) for n in c.notes]
    assert any(n.startswith("Met again at Lunch") for n in notes), notes

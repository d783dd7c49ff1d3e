"""The planner: the right writes, with stable keys, at the right times (PLAYBOOK §1-§4)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from followup import keys
from followup.config import DraftsConfig, ScheduleConfig
from followup.core.compose import Composer
from followup.core.material import read_material
from followup.core.planner import (
    MeetingPlan,
    PersonState,
    PlanContext,
    draft_groups,
    first_touch_due,
    first_touch_window,
    nurture_due,
    plan_first_touch,
    plan_first_touch_block,
    plan_nurture,
)
from followup.core.slots import is_working_time
from followup.model import (
    Attendee,
    BlockPayload,
    ContactPayload,
    DraftPayload,
    Interaction,
    Interval,
    Meeting,
    PartStat,
    WriteKind,
)

from .factories import BERLIN, BOB, JANE, ME, SCHEDULE, USER, local, meeting

NOTES = "Jane: benchmarks lead. Lean no on pricing.\nPromised: send the Q3 article"
MEETING = meeting(ME, JANE, BOB, location="Café Einstein, Berlin", description=NOTES)
AFTER = MEETING.end + timedelta(minutes=10)  # Tue 3 March 11:10


def ctx(now: datetime = AFTER, schedule: ScheduleConfig = SCHEDULE,
        drafts: DraftsConfig | None = None) -> PlanContext:
    return PlanContext(
        account="work",
        now=now,
        user=USER,
        schedule=schedule,
        composer=Composer(USER),
        where_drafts_are="your Drafts folder",
        drafts=drafts or DraftsConfig(),
    )


def plan(
    people: Sequence[Attendee] = (JANE,),
    *,
    m: Meeting = MEETING,
    now: datetime = AFTER,
    interactions: dict[str, Interaction] | None = None,
    busy: Sequence[Interval] = (),
    offers: Sequence[Interval] = (),
    drafts: DraftsConfig | None = None,
) -> MeetingPlan:
    return plan_first_touch(
        ctx(now, drafts=drafts), m, people, material=read_material(m.description),
        interactions=interactions or {}, busy=busy, taken=[], offers=offers,
    )


def kinds(p: MeetingPlan) -> list[WriteKind]:
    return [i.kind for i in p.intents]


def the_draft(p: MeetingPlan) -> DraftPayload:
    [draft] = [i.payload for i in p.intents if i.kind is WriteKind.DRAFT]
    assert isinstance(draft, DraftPayload)
    return draft


def test_a_new_person_gets_a_contact_and_a_draft_and_the_meeting_a_block() -> None:
    result = plan()
    assert result.skips == []
    assert kinds(result) == [WriteKind.CONTACT, WriteKind.DRAFT]
    for intent in result.intents:
        assert intent.key == keys.touch_key(
            "work", MEETING.uid, MEETING.occurrence, JANE.email, 0, intent.kind.value
        )
        assert (intent.person, intent.touch, intent.meeting_uid) == (JANE.email, 0, MEETING.uid)
        assert intent.occurrence == MEETING.occurrence
        assert intent.due == first_touch_due(MEETING, SCHEDULE) == AFTER

    contact = result.intents[0].payload
    assert isinstance(contact, ContactPayload)
    assert (contact.email, contact.given_name, contact.family_name) == (JANE.email, "Jane", "Doe")
    assert contact.organization == "Acme Corp"
    # The card is the user's own: the private notes go there (and onto the block).
    assert contact.note == (
        "Met at Benchmark chat, 3 March 2026 (Café Einstein, Berlin). "
        "Notes: Jane: benchmarks lead. Lean no on pricing. Promised: send the Q3 article"
    )
    draft = the_draft(result)
    assert draft.message_id == keys.message_id(result.intents[1].key)
    assert "Lean no" not in draft.body and "pricing" not in draft.body

    placed = plan_first_touch_block(ctx(), [result], busy=[], taken=[])
    assert placed is not None
    block_intent, interval = placed
    block = block_intent.payload
    assert isinstance(block, BlockPayload)
    assert (block.start, block.end) == (local(2026, 3, 3, 11, 10), local(2026, 3, 3, 11, 25))
    assert interval == Interval(block.start, block.end)
    assert block.summary == "Send follow-up to Jane Doe, Acme Corp"
    assert block.draft_keys == (result.intents[1].key,)
    assert "Lean no on pricing" in block.description


def test_keys_are_stable_across_runs_and_differ_per_person() -> None:
    def key_set(person: Attendee, now: datetime) -> list[str]:
        return [i.key for i in plan([person], now=now).intents]

    assert key_set(JANE, AFTER) == key_set(JANE, AFTER + timedelta(hours=3))
    assert not set(key_set(JANE, AFTER)) & set(key_set(BOB, AFTER))


def test_proposed_slots_avoid_busy_time_and_start_after_the_send_day() -> None:
    busy = [Interval(local(2026, 3, 4, 0), local(2026, 3, 4, 23))]  # Wednesday is full
    body = the_draft(plan(busy=busy)).body
    assert "Tuesday 3 March" not in body and "Wednesday 4 March" not in body
    assert "Thursday 5 March" in body and "Friday 6 March" in body


def test_people_of_one_company_share_a_draft_and_others_get_their_own() -> None:
    jim = Attendee("jim@acme-corp.com", "Jim Beam", PartStat.ACCEPTED)
    m = meeting(ME, JANE, jim, BOB, description=NOTES)
    result = plan([JANE, jim, BOB], m=m)
    drafts = [i.payload for i in result.intents if i.kind is WriteKind.DRAFT]
    assert [[a for _, a in d.to] for d in drafts if isinstance(d, DraftPayload)] == [
        [JANE.email, jim.email], [BOB.email]]
    assert result.drafted == {JANE.email: result.intents[3].key, jim.email: result.intents[3].key,
                              BOB.email: result.intents[4].key}
    one = plan([JANE, jim, BOB], m=m, drafts=DraftsConfig(group_by="meeting"))
    assert kinds(one).count(WriteKind.DRAFT) == 1


def test_webmail_addresses_are_nobodys_company() -> None:
    a = Attendee("ann@gmail.com", "Ann")
    b = Attendee("ben@gmail.com", "Ben")
    assert draft_groups([a, b], "company") == [[a], [b]]


def test_no_slot_goes_to_more_than_two_open_drafts() -> None:
    # The same three slots were offered twice already: new proposals must avoid them.
    first = plan()
    offered = [s for _, slots in first.offers for s in slots]
    assert len(offered) == 3
    second = plan(offers=offered)
    shared = [s for _, slots in second.offers for s in slots]
    assert not set(shared) & set(offered)  # unoffered slots come first
    third = plan(offers=[*offered, *offered])
    assert not set(s for _, slots in third.offers for s in slots) & set(offered)


def test_slots_fit_both_working_days_when_the_other_side_is_far_away() -> None:
    la = dataclasses.replace(MEETING, timezone="America/Los_Angeles")
    result = plan(m=la)
    [(_, slots)] = result.offers
    pacific = ZoneInfo("America/Los_Angeles")
    for slot in slots:
        assert is_working_time(SCHEDULE, BERLIN, slot)
        assert is_working_time(SCHEDULE, pacific, slot)
    body = the_draft(result).body
    assert "your time (Los Angeles) / " in body and " Berlin" in body


def test_a_block_for_several_drafts_is_sized_to_the_work() -> None:
    jim = Attendee("jim@initech.com", "Jim Beam", PartStat.ACCEPTED)
    m = meeting(ME, JANE, jim, BOB, description=NOTES, title="FactoryTech 2026")
    result = plan([JANE, jim, BOB], m=m)
    placed = plan_first_touch_block(ctx(), [result], busy=[], taken=[])
    assert placed is not None
    block = placed[0].payload
    assert isinstance(block, BlockPayload)
    assert block.summary == "Send 3 follow-ups from FactoryTech"
    assert block.end - block.start == timedelta(minutes=25)


def test_a_block_keeps_clear_of_offered_slots_and_busy_time() -> None:
    result = plan()
    offered = [s for _, slots in result.offers for s in slots]
    busy = [Interval(local(2026, 3, 3, 11), local(2026, 3, 3, 17, 30))]
    placed = plan_first_touch_block(ctx(), [result], busy=[*busy, *offered], taken=[])
    assert placed is not None
    _, interval = placed
    assert not any(interval.overlaps(b) for b in [*busy, *offered])


@pytest.mark.parametrize("direction", ["sent", "received"])
def test_mail_after_the_meeting_means_no_draft_and_no_block(direction: str) -> None:
    mail = Interaction(JANE.email, MEETING.end + timedelta(minutes=5), direction)
    result = plan(interactions={JANE.email: mail})
    assert kinds(result) == [WriteKind.CONTACT]
    assert [s.code for s in result.skips] == ["already_in_touch"]
    assert plan_first_touch_block(ctx(), [result], busy=[], taken=[]) is None


def test_mail_from_before_the_meeting_does_not_count() -> None:
    mail = Interaction(JANE.email, MEETING.start - timedelta(days=2), "received")
    assert kinds(plan(interactions={JANE.email: mail})) == [WriteKind.CONTACT, WriteKind.DRAFT]


def test_past_the_deadline_only_the_contact_is_written() -> None:
    result = plan(now=MEETING.end + timedelta(hours=72))
    assert kinds(result) == [WriteKind.CONTACT]
    assert [s.code for s in result.skips] == ["past_deadline"]


def test_a_late_start_still_places_the_block_in_time() -> None:
    # The daemon was down; it is now Thursday 9:00, within the 72 h of Tuesday 11:00.
    now = local(2026, 3, 5, 9)
    result = plan(now=now)
    placed = plan_first_touch_block(ctx(now), [result], busy=[], taken=[])
    assert placed is not None and placed[1] == Interval(now, now + timedelta(minutes=15))


def test_first_touch_window_covers_the_deadline_and_the_proposals() -> None:
    window = first_touch_window(MEETING, AFTER, SCHEDULE)
    assert window.start <= MEETING.end
    assert window.end >= MEETING.end + timedelta(hours=72) + timedelta(days=7)


# --- cadence --------------------------------------------------------------------------------------


def state(email: str = "jane.doe@acme-corp.com", **kw: object) -> PersonState:
    base = PersonState(
        email=email,
        name="Jane Doe",
        first_met=local(2026, 3, 3, 10),
        last_meeting_title="Benchmark chat",
        anchor=local(2026, 3, 3, 11),
        touches=1,
        open_touch=False,
    )
    return dataclasses.replace(base, **kw)


def test_nurture_due_is_three_to_four_weeks_after_the_anchor_and_deterministic() -> None:
    emails = [f"person{i}@example.org" for i in range(60)]
    days = []
    for e in emails:
        due = nurture_due(state(e), SCHEDULE)
        assert due is not None
        days.append((due - state(e).anchor).days)
    assert all(21 <= d <= 28 for d in days)
    assert len(set(days)) > 3  # spread, not all on one day
    assert nurture_due(state(), SCHEDULE) == nurture_due(state(), SCHEDULE)


def test_no_nurture_while_a_touch_is_open() -> None:
    assert nurture_due(state(open_touch=True), SCHEDULE) is None


def test_weekly_batch_one_draft_each_and_one_friday_block() -> None:
    now = local(2026, 3, 30, 8)  # Monday
    people = [state(), state("bob@roe.example", name="Bob Roe", touches=2)]
    busy = [Interval(local(2026, 4, 3, 15), local(2026, 4, 3, 16))]  # Friday 15-16 taken
    intents = plan_nurture(ctx(now), people, busy=busy, taken=[])
    drafts = [i for i in intents if i.kind is WriteKind.DRAFT]
    blocks = [i for i in intents if i.kind is WriteKind.BLOCK]
    assert [(d.person, d.touch) for d in drafts] == [(people[0].email, 1), (people[1].email, 2)]
    assert drafts[1].key == keys.touch_key("work", "", None, "bob@roe.example", 2, "draft")
    assert len(blocks) == 1
    block = blocks[0]
    assert block.key == keys.weekly_key("work", local(2026, 4, 3))
    assert block.person == ""
    payload = block.payload
    assert isinstance(payload, BlockPayload)
    # Sized to its batch: two drafts fit the shortest block.
    assert (payload.start, payload.end) == (local(2026, 4, 3, 16), local(2026, 4, 3, 16, 15))
    assert "Jane Doe" in payload.description and "Bob Roe" in payload.description


def test_weekly_batch_on_a_full_friday_keeps_the_time_and_flags_the_conflict() -> None:
    now = local(2026, 3, 30, 8)
    busy = [Interval(local(2026, 4, 3, 8), local(2026, 4, 3, 20))]
    intents = plan_nurture(ctx(now), [state()], busy=busy, taken=[])
    payload = next(i.payload for i in intents if i.kind is WriteKind.BLOCK)
    assert isinstance(payload, BlockPayload)
    assert payload.conflict and payload.start == local(2026, 4, 3, 15)


def test_individual_blocks_when_weekly_batching_is_off() -> None:
    schedule = ScheduleConfig(weekly_batch=False)
    now = local(2026, 3, 30, 8)
    people = [state(), state("bob@roe.example", name="Bob Roe")]
    intents = plan_nurture(ctx(now, schedule), people, busy=[], taken=[])
    blocks = [i for i in intents if i.kind is WriteKind.BLOCK]
    assert [b.person for b in blocks] == [p.email for p in people]
    spans = []
    for b in blocks:
        assert isinstance(b.payload, BlockPayload)
        spans.append(Interval(b.payload.start, b.payload.end))
        assert is_working_time(schedule, BERLIN, spans[-1])
        assert b.key == keys.touch_key("work", "", None, b.person, 1, "block")
    assert not spans[0].overlaps(spans[1])
    assert spans[0].start >= now


def test_people_with_an_open_touch_are_left_out() -> None:
    assert plan_nurture(ctx(), [state(open_touch=True)], busy=[], taken=[]) == []


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(2026, 3, 27, 8), local(2026, 3, 30, 9, 30)),  # Friday: the coming Monday
        (local(2026, 3, 30, 9), local(2026, 3, 30, 9, 30)),  # Monday before the weekly time
        (local(2026, 3, 30, 10, 2), local(2026, 3, 30, 10, 5)),  # later that Monday: now
        (local(2026, 3, 30, 17, 20), local(2026, 4, 6, 9, 30)),  # too late today: next week
    ],
)
def test_weekly_day_and_time_are_configurable(now: datetime, expected: datetime) -> None:
    schedule = ScheduleConfig(weekly_day="mon", weekly_time=time(9, 30))
    intents = plan_nurture(ctx(now, schedule), [state()], busy=[], taken=[])
    payload = next(i.payload for i in intents if i.kind is WriteKind.BLOCK)
    assert isinstance(payload, BlockPayload)
    assert payload.start == expected


def test_individual_touches_are_due_on_their_own_dates() -> None:
    now = local(2026, 3, 30, 8)
    person = state(anchor=now)
    due = nurture_due(person, SCHEDULE)
    schedule = SCHEDULE.model_copy(update={"weekly_batch": False})
    draft, block = plan_nurture(ctx(now, schedule=schedule), [person], busy=[], taken=[])
    assert draft.due == due and block.due == due


def test_weekly_block_waits_for_the_first_touch_that_falls_due() -> None:
    now = local(2026, 3, 30, 8)  # Monday; Jane's touch is due in about four weeks
    person = state(anchor=now)
    due = nurture_due(person, SCHEDULE)
    assert due is not None
    intents = plan_nurture(ctx(now), [person], busy=[], taken=[])
    draft, block = intents
    # Never written before the touch is due: batching does not bring a touch forward.
    assert draft.due == due and block.due == due
    assert isinstance(block.payload, BlockPayload)
    assert block.payload.start >= due
    assert block.payload.start.astimezone(BERLIN).weekday() == 4  # a Friday

"""What to write, for whom, and when: the playbook's timing rules as write intents.

Pure: given a meeting (or the people whose next touch is due), the user's busy time and the
clock, it returns WriteIntents with stable keys. The engine records and applies them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from followup import keys
from followup.config import WEEKDAYS, ScheduleConfig, UserConfig
from followup.core.compose import Composer, contact_note
from followup.core.names import organization_from_email, parse_name
from followup.core.slots import (
    PROPOSAL_WORKING_DAYS,
    Placement,
    free_slots,
    place_block,
    propose_slots,
)
from followup.core.state import PersonState
from followup.model import (
    Attendee,
    ContactPayload,
    Interaction,
    Interval,
    Meeting,
    Skip,
    WriteIntent,
    WriteKind,
)

__all__ = [
    "FirstTouch",
    "PersonState",
    "PlanContext",
    "first_touch_due",
    "first_touch_window",
    "nurture_due",
    "plan_first_touch",
    "plan_nurture",
]

ALREADY_IN_TOUCH = "already_in_touch"
PAST_DEADLINE = "past_deadline"
# How far after a nurture touch is due its block may go.
NURTURE_SEARCH_DAYS = 14


@dataclass(frozen=True)
class PlanContext:
    account: str
    now: datetime
    user: UserConfig
    schedule: ScheduleConfig
    composer: Composer
    where_drafts_are: str  # e.g. "your Gmail Drafts folder", for block descriptions


@dataclass
class FirstTouch:
    intents: list[WriteIntent]
    skips: list[Skip] = field(default_factory=list)
    block: Interval | None = None  # where the block went, to add to `taken` for the next person


def first_touch_due(meeting: Meeting, schedule: ScheduleConfig) -> datetime:
    """When the first touch for a meeting is acted on: its end plus the grace period."""
    return meeting.end + timedelta(minutes=schedule.grace_minutes)


def first_touch_window(meeting: Meeting, now: datetime, schedule: ScheduleConfig) -> Interval:
    """The span of busy time `plan_first_touch` needs: from now (or the meeting's end) to the
    later of the deadline and the last day slots may be proposed on."""
    start = min(now, meeting.end)
    deadline = meeting.end + timedelta(hours=schedule.deadline_hours)
    # Proposals go up to PROPOSAL_WORKING_DAYS working days after the block; two calendar
    # days per working day is generous for any working week.
    proposals_end = max(now, deadline) + timedelta(days=2 * PROPOSAL_WORKING_DAYS + 2)
    return Interval(start, proposals_end)


def contact_intent(
    ctx: PlanContext, meeting: Meeting, person: Attendee, *, again: bool = False
) -> WriteIntent:
    """Create the person's card, or annotate the existing one, with a note of this meeting.

    `again`: someone followup met before ("Met again at ..."): the engine uses it instead of
    a first touch.
    """
    tz = ctx.user.tz
    name = parse_name(person.name)
    payload = ContactPayload(
        email=person.email,
        display_name=name.display,
        given_name=name.given,
        family_name=name.family,
        organization=organization_from_email(person.email),
        note=contact_note(meeting, tz, again=again),
    )
    return WriteIntent(
        key=keys.touch_key(
            ctx.account, meeting.uid, meeting.occurrence, person.email, 0, "contact"
        ),
        kind=WriteKind.CONTACT,
        payload=payload,
        due=first_touch_due(meeting, ctx.schedule),
        person=person.email,
        meeting_uid=meeting.uid,
        occurrence=meeting.occurrence,
        touch=0,
    )


def plan_first_touch(
    ctx: PlanContext,
    meeting: Meeting,
    person: Attendee,
    *,
    others: Sequence[Attendee],
    interaction: Interaction | None,
    busy: Sequence[Interval],
    taken: Sequence[Interval],
) -> FirstTouch:
    """The writes for one new person after a meeting (PLAYBOOK §1, §2, §4).

    Always a CONTACT (create, or annotate the existing card). Also a DRAFT and a BLOCK, unless
    mail went either way after the meeting (`already_in_touch`) or the deadline has passed
    (`past_deadline`). `taken`: blocks placed earlier in this cycle, kept clear of.
    """
    schedule = ctx.schedule
    tz = ctx.user.tz
    contact = contact_intent(ctx, meeting, person)
    result = FirstTouch(intents=[contact])

    if interaction is not None and interaction.at >= meeting.end:
        who = "You wrote to them" if interaction.direction == "sent" else "They wrote to you"
        result.skips.append(
            Skip(
                person.email,
                ALREADY_IN_TOUCH,
                f"{who} after the meeting: no follow-up draft needed.",
            )
        )
        return result
    deadline = meeting.end + timedelta(hours=schedule.deadline_hours)
    block_minutes = timedelta(minutes=schedule.block_minutes)
    if max(ctx.now, first_touch_due(meeting, schedule)) + block_minutes > deadline:
        result.skips.append(
            Skip(
                person.email,
                PAST_DEADLINE,
                f"More than {schedule.deadline_hours} hours have passed since the meeting: "
                "too late for a first follow-up.",
            )
        )
        return result

    # Only this meeting's span matters: narrowing once here keeps each slot search small
    # when a long first cycle plans hundreds of people against thousands of busy intervals.
    span = first_touch_window(meeting, ctx.now, schedule)
    occupied = [b for b in [*busy, *taken] if b.end > span.start and b.start < span.end]
    placement: Placement = place_block(
        meeting.end, now=ctx.now, busy=occupied, schedule=schedule, tz=tz
    )
    block = Interval(placement.start, placement.end)
    slots = propose_slots(
        max(ctx.now, placement.end), busy=[*occupied, block], schedule=schedule, tz=tz
    )
    key_args = (ctx.account, meeting.uid, meeting.occurrence, person.email, 0)
    draft_key = keys.touch_key(*key_args, "draft")
    draft = ctx.composer.first_touch(
        meeting, person, others=others, slots=slots, key=draft_key, tz=tz
    )
    block_payload = ctx.composer.first_touch_block(
        meeting,
        person,
        start=placement.start,
        end=placement.end,
        conflict=placement.conflict,
        where_drafts_are=ctx.where_drafts_are,
        tz=tz,
    )
    due = contact.due
    for key, kind, payload in (
        (draft_key, WriteKind.DRAFT, draft),
        (keys.touch_key(*key_args, "block"), WriteKind.BLOCK, block_payload),
    ):
        result.intents.append(
            WriteIntent(
                key=key,
                kind=kind,
                payload=payload,
                due=due,
                person=person.email,
                meeting_uid=meeting.uid,
                occurrence=meeting.occurrence,
                touch=0,
            )
        )
    result.block = block
    return result


def cadence_days(email: str, schedule: ScheduleConfig) -> int:
    """This person's cadence in days: fixed per address (a hash, not chance), spread over
    [cadence_min_days, cadence_max_days] so touches do not all fall due on the same day."""
    low = min(schedule.cadence_min_days, schedule.cadence_max_days)
    high = max(schedule.cadence_min_days, schedule.cadence_max_days)
    digest = hashlib.sha256(email.strip().lower().encode("utf-8")).digest()
    return low + int.from_bytes(digest[:8], "big") % (high - low + 1)


def nurture_due(state: PersonState, schedule: ScheduleConfig) -> datetime | None:
    """When the next touch is due: the anchor plus this person's cadence; None while a
    drafted touch is still open (one pending touch per contact, PLAYBOOK §4)."""
    if state.open_touch:
        return None
    return state.anchor + timedelta(days=cadence_days(state.email, schedule))


def _nurture_draft(ctx: PlanContext, state: PersonState, due: datetime) -> WriteIntent:
    key = keys.touch_key(ctx.account, "", None, state.email, state.touches, "draft")
    return WriteIntent(
        key=key,
        kind=WriteKind.DRAFT,
        payload=ctx.composer.nurture(state, key=key, tz=ctx.user.tz),
        due=due,
        person=state.email,
        touch=state.touches,
    )


def _first_free(
    ctx: PlanContext, start: datetime, end: datetime, minutes: int, occupied: Sequence[Interval]
) -> Placement | None:
    """The first free working-hours slot in [start, end); else the first working-hours slot
    there, busy or not (marked as a conflict); None when [start, end) has no working time."""
    duration = timedelta(minutes=minutes)
    for busy in (occupied, ()):
        slot = next(
            free_slots(
                ctx.schedule, ctx.user.tz, busy=busy, duration=duration, start=start, end=end
            ),
            None,
        )
        if slot is not None:
            return Placement(slot.start, slot.end, conflict=bool(busy is not occupied))
    return None


def _weekly_slot_day(ctx: PlanContext, after: datetime) -> datetime:
    """The start (local midnight, as UTC) of the next `weekly_day`: today if it is that day and
    the weekly time is still ahead or working hours still have room for the block."""
    tz = ctx.user.tz
    schedule = ctx.schedule
    target = WEEKDAYS.index(schedule.weekly_day)
    block = timedelta(minutes=schedule.weekly_block_minutes)
    day = after.astimezone(tz).date()
    while True:
        if day.weekday() == target:
            weekly_at = datetime.combine(day, schedule.weekly_time, tzinfo=tz).astimezone(UTC)
            day_end = datetime.combine(day, schedule.day_end, tzinfo=tz).astimezone(UTC)
            if after <= weekly_at or after + block <= day_end:
                return datetime.combine(day, time(0, 0), tzinfo=tz).astimezone(UTC)
        day += timedelta(days=1)


def plan_nurture(
    ctx: PlanContext,
    due: Sequence[PersonState],
    *,
    busy: Sequence[Interval],
    taken: Sequence[Interval],
) -> list[WriteIntent]:
    """Drafts and blocks for the people whose next touch is due (PLAYBOOK §3).

    One DRAFT each (touch number = touches so far). Blocks: with `weekly_batch`, one block on
    the next `weekly_day` at `weekly_time` (or the first free slot after it that day) listing
    everyone; otherwise one block each, at the first free slot after the touch is due.
    People with an open touch are left out.
    """
    people = [s for s in due if not s.open_touch]
    if not people:
        return []
    intents: list[WriteIntent] = []
    tz = ctx.user.tz
    # Each intent is due when the touch is; blocks go no earlier than now.
    when = {s.email: nurture_due(s, ctx.schedule) or ctx.now for s in people}
    # A weekly batch is planned when the engine decides (the day before its slot) and takes
    # touches due up to a week later: all of it is written now, so the drafts are in the
    # Drafts folder when the weekly block comes, not on each touch's own date.
    write_at = (
        {e: min(t, ctx.now) for e, t in when.items()} if ctx.schedule.weekly_batch else when
    )
    for s in people:
        intents.append(_nurture_draft(ctx, s, write_at[s.email]))

    occupied = [*busy, *taken]
    if ctx.schedule.weekly_batch:
        # The first weekly day on which a touch is due (the engine usually passes those due now).
        earliest = max(ctx.now, min(when.values()))
        day_start = _weekly_slot_day(ctx, earliest)
        weekly_at = datetime.combine(
            day_start.astimezone(tz).date(), ctx.schedule.weekly_time, tzinfo=tz
        ).astimezone(UTC)
        start_at = max(weekly_at, earliest)
        day_end = datetime.combine(
            day_start.astimezone(tz).date() + timedelta(days=1), time(0, 0), tzinfo=tz
        ).astimezone(UTC)
        weekly = _first_free(ctx, start_at, day_end, ctx.schedule.weekly_block_minutes, occupied)
        # Nothing free that day after the weekly time: keep the habit and flag the conflict.
        placement = weekly or Placement(
            start_at,
            start_at + timedelta(minutes=ctx.schedule.weekly_block_minutes),
            conflict=True,
        )
        payload = ctx.composer.nurture_block(
            people,
            start=placement.start,
            end=placement.end,
            conflict=placement.conflict,
            where_drafts_are=ctx.where_drafts_are,
            tz=tz,
        )
        intents.append(
            WriteIntent(
                key=keys.weekly_key(ctx.account, day_start),
                kind=WriteKind.BLOCK,
                payload=payload,
                due=min(write_at.values()),
                person="",
            )
        )
        return intents

    for s in people:
        start = max(ctx.now, when[s.email])
        minutes = ctx.schedule.block_minutes
        placement = _first_free(
            ctx, start, start + timedelta(days=NURTURE_SEARCH_DAYS), minutes, occupied
        ) or Placement(start, start + timedelta(minutes=minutes), conflict=True)
        occupied.append(Interval(placement.start, placement.end))
        payload = ctx.composer.nurture_block(
            [s],
            start=placement.start,
            end=placement.end,
            conflict=placement.conflict,
            where_drafts_are=ctx.where_drafts_are,
            tz=tz,
        )
        intents.append(
            WriteIntent(
                key=keys.touch_key(ctx.account, "", None, s.email, s.touches, "block"),
                kind=WriteKind.BLOCK,
                payload=payload,
                due=when[s.email],
                person=s.email,
                touch=s.touches,
            )
        )
    return intents

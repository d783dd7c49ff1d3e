"""What to write, for whom, and when: the playbook's timing rules as write intents.

Pure: given a meeting (or the people whose next touch is due), the user's busy time and the
clock, it returns WriteIntents with stable keys. The engine records and applies them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from followup import keys
from followup.config import WEEKDAYS, DraftsConfig, ScheduleConfig, UserConfig
from followup.core.compose import Composer, contact_note
from followup.core.drafting import (
    BlockDraft,
    BlockItem,
    FirstNote,
    Recipient,
    note_language,
    person_label,
)
from followup.core.material import Material
from followup.core.names import organization_from_email, parse_name
from followup.core.slots import (
    PROPOSAL_WORKING_DAYS,
    Placement,
    free_slots,
    place_block,
    propose_slots,
    working_windows,
)
from followup.core.slottext import format_slot, same_clock
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
    "MeetingPlan",
    "PersonState",
    "PlanContext",
    "first_touch_due",
    "first_touch_window",
    "nurture_due",
    "plan_first_touch",
    "plan_first_touch_block",
    "plan_nurture",
]

ALREADY_IN_TOUCH = "already_in_touch"
PAST_DEADLINE = "past_deadline"
# How far after a nurture touch is due its block may go.
NURTURE_SEARCH_DAYS = 14
# A first-touch block grows by this for each draft beyond the first, up to the maximum.
EXTRA_MINUTES_PER_DRAFT = 5
MAX_FIRST_TOUCH_BLOCK_MINUTES = 60


@dataclass(frozen=True)
class PlanContext:
    account: str
    now: datetime
    user: UserConfig
    schedule: ScheduleConfig
    composer: Composer
    where_drafts_are: str  # e.g. "your Gmail Drafts folder", for block descriptions
    drafts: DraftsConfig = field(default_factory=DraftsConfig)


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
    ctx: PlanContext,
    meeting: Meeting,
    person: Attendee,
    *,
    again: bool = False,
    notes: str = "",
) -> WriteIntent:
    """Create the person's card, or annotate the existing one, with a note of this meeting.

    `again`: someone followup met before ("Met again at ..."): the engine uses it instead of
    a first touch. `notes`: the user's private notes from the event; the card is the user's.
    """
    tz = ctx.user.tz
    name = parse_name(person.name)
    payload = ContactPayload(
        email=person.email,
        display_name=name.display,
        given_name=name.given,
        family_name=name.family,
        organization=organization_from_email(person.email),
        note=contact_note(meeting, tz, again=again, notes=notes),
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


@dataclass
class MeetingPlan:
    """The first touch for the new people of one meeting: their cards, the drafts (one per
    company or one for the meeting), and what its block will list. The block itself is
    placed by `plan_first_touch_block`, for one meeting or a half-day's batch of them."""

    meeting: Meeting
    intents: list[WriteIntent] = field(default_factory=list)  # contacts and drafts
    skips: list[Skip] = field(default_factory=list)
    block_item: BlockItem | None = None  # None: no draft, so nothing to send
    offers: list[tuple[str, list[Interval]]] = field(default_factory=list)  # draft key, slots
    drafted: dict[str, str] = field(default_factory=dict)  # person -> their draft's key


def draft_groups(
    people: Sequence[Attendee], group_by: str
) -> list[list[Attendee]]:
    """Who shares a draft: everyone (group_by "meeting"), or the people of one company; a
    webmail address is nobody's company, so its owner gets a draft of their own."""
    if group_by == "meeting":
        return [list(people)] if people else []
    groups: dict[str, list[Attendee]] = {}
    for p in people:
        company = organization_from_email(p.email)
        groups.setdefault(company.lower() if company else f"person:{p.email}", []).append(p)
    return list(groups.values())


def their_zone(meeting: Meeting, user_tz: ZoneInfo) -> ZoneInfo | None:
    """The other side's zone when the meeting says it and its clock differs from the user's
    (an event written in Los Angeles time for a user in Berlin)."""
    if not meeting.timezone:
        return None
    try:
        zone = ZoneInfo(meeting.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    if same_clock(zone, user_tz, meeting.start):
        return None
    return zone


def _proposal_busy(
    ctx: PlanContext,
    occupied: Sequence[Interval],
    offers: Sequence[Interval],
    their_tz: ZoneInfo | None,
    window: Interval,
    *,
    allow_shared: bool,
) -> list[Interval]:
    """Busy time for proposing slots: the user's, the slots already offered (all of them, or
    only those offered as often as allowed), and, for someone in another zone, the hours
    outside their working day."""
    limit = 1 if not allow_shared else ctx.drafts.max_offers_per_slot
    counts: dict[tuple[datetime, datetime], int] = {}
    for o in offers:
        counts[(o.start, o.end)] = counts.get((o.start, o.end), 0) + 1
    full = [Interval(s, e) for (s, e), n in counts.items() if n >= limit]
    busy = [*occupied, *full]
    if their_tz is not None:
        busy.extend(_outside_working_hours(ctx, their_tz, window))
    return busy


def _outside_working_hours(ctx: PlanContext, tz: ZoneInfo, window: Interval) -> list[Interval]:
    """The complement of working hours in `tz` over `window` (we assume the other side keeps
    the user's working hours, in their own zone)."""
    gaps: list[Interval] = []
    cursor = window.start
    for w in working_windows(ctx.schedule, tz, window.start, window.end):
        if w.start > cursor:
            gaps.append(Interval(cursor, w.start))
        cursor = max(cursor, w.end)
    if cursor < window.end:
        gaps.append(Interval(cursor, window.end))
    return gaps


def _propose(
    ctx: PlanContext,
    after: datetime,
    occupied: Sequence[Interval],
    offers: Sequence[Interval],
    their_tz: ZoneInfo | None,
) -> list[Interval]:
    """Slots for one draft: unoffered ones first; slots already offered to another open
    draft only when too few are free (never beyond max_offers_per_slot)."""
    wanted = ctx.schedule.proposed_slots
    if wanted <= 0 or ctx.drafts.booking_url:
        return []
    window = Interval(after, after + timedelta(days=2 * PROPOSAL_WORKING_DAYS + 4))
    tz = ctx.user.tz
    slots: list[Interval] = []
    for shared in (False, True):
        busy = _proposal_busy(ctx, occupied, offers, their_tz, window, allow_shared=shared)
        found = propose_slots(after, busy=[*busy, *slots], schedule=ctx.schedule, tz=tz,
                              count=wanted - len(slots))
        slots = sorted([*slots, *found], key=lambda s: s.start)
        if len(slots) >= wanted:
            break
    return slots


def _send_day_start(ctx: PlanContext, meeting: Meeting) -> datetime:
    """When the user will likely send the draft: the first working time after the meeting's
    end plus grace (proposals start on the working day after it)."""
    earliest = max(ctx.now, first_touch_due(meeting, ctx.schedule))
    window = next(
        working_windows(ctx.schedule, ctx.user.tz, earliest, earliest + timedelta(days=14)),
        None,
    )
    return window.start if window is not None else earliest


def plan_first_touch(
    ctx: PlanContext,
    meeting: Meeting,
    people: Sequence[Attendee],
    *,
    material: Material,
    interactions: Mapping[str, Interaction],
    recipients: Mapping[str, Recipient] | None = None,
    busy: Sequence[Interval],
    taken: Sequence[Interval],
    offers: Sequence[Interval] = (),
    others: Sequence[Attendee] = (),
) -> MeetingPlan:
    """The writes for the new people of one meeting (PLAYBOOK §1, §2, §4).

    Each person gets a CONTACT (create, or annotate the existing card, with the private
    notes). Those not already in touch since the meeting (`already_in_touch`), while the
    deadline has not passed (`past_deadline`), share DRAFTs by company (or one for the
    meeting), each proposing slots nobody else holds too often (`offers`), in both zones
    when the other side is elsewhere. `others`: who else was there, for the block.
    """
    schedule = ctx.schedule
    plan = MeetingPlan(meeting)
    plan.intents.extend(
        contact_intent(ctx, meeting, p, notes=material.private) for p in people
    )
    deadline = meeting.end + timedelta(hours=schedule.deadline_hours)
    block_minutes = timedelta(minutes=schedule.block_minutes)
    if max(ctx.now, first_touch_due(meeting, schedule)) + block_minutes > deadline:
        plan.skips.extend(
            Skip(
                p.email,
                PAST_DEADLINE,
                f"More than {schedule.deadline_hours} hours have passed since the meeting: "
                "too late for a first follow-up.",
            )
            for p in people
        )
        return plan
    to_write: list[Attendee] = []
    for p in people:
        seen = interactions.get(p.email)
        if seen is not None and seen.at >= meeting.end:
            who = "You wrote to them" if seen.direction == "sent" else "They wrote to you"
            plan.skips.append(
                Skip(p.email, ALREADY_IN_TOUCH,
                     f"{who} after the meeting: no follow-up draft needed.")
            )
        else:
            to_write.append(p)
    if not to_write:
        return plan

    tz = ctx.user.tz
    known = recipients or {}
    span = first_touch_window(meeting, ctx.now, schedule)
    occupied = [b for b in [*busy, *taken] if b.end > span.start and b.start < span.end]
    held = [o for o in offers if o.end > span.start and o.start < span.end]
    zone = their_zone(meeting, tz)
    language = note_language(material, meeting, ctx.user.language)
    after = _send_day_start(ctx, meeting)
    drafts: list[BlockDraft] = []
    offered_text: list[str] = []
    for group in draft_groups(to_write, ctx.drafts.group_by):
        key = keys.touch_key(ctx.account, meeting.uid, meeting.occurrence, group[0].email, 0,
                             "draft")
        slots = _propose(ctx, after, occupied, held, zone)
        held = [*held, *slots]
        note = FirstNote(
            meeting=meeting,
            recipients=tuple(known.get(p.email) or Recipient(p) for p in group),
            material=material,
            slots=tuple(slots),
            their_tz=zone,
            language=language,
            key=key,
        )
        draft = ctx.composer.first_touch(
            note, now=ctx.now, tz=tz, booking_url=ctx.drafts.booking_url,
            slot_minutes=schedule.proposed_slot_minutes,
        )
        plan.intents.append(
            WriteIntent(
                key=key,
                kind=WriteKind.DRAFT,
                payload=draft,
                due=first_touch_due(meeting, schedule),
                person=group[0].email,
                meeting_uid=meeting.uid,
                occurrence=meeting.occurrence,
                touch=0,
            )
        )
        plan.offers.append((key, slots))
        for p in group:
            plan.drafted[p.email] = key
        drafts.append(
            BlockDraft(
                key=key,
                to=tuple(f"{person_label(p.email, p.name)} <{p.email}>" for p in group),
                subject=draft.subject,
            )
        )
        for s in slots:
            text = format_slot(s, tz, zone)
            if text not in offered_text:
                offered_text.append(text)
    plan.block_item = BlockItem(
        meeting=meeting,
        material=material,
        drafts=tuple(drafts),
        promises=material.promises,
        offered=tuple(offered_text),
        others=tuple(person_label(o.email, o.name) for o in others),
    )
    return plan


def first_touch_block_minutes(ctx: PlanContext, drafts: int) -> int:
    """A block sized to its work: the configured minutes for one draft, a few more for each
    further one, at most an hour."""
    extra = max(0, drafts - 1) * EXTRA_MINUTES_PER_DRAFT
    return min(ctx.schedule.block_minutes + extra, MAX_FIRST_TOUCH_BLOCK_MINUTES)


def plan_first_touch_block(
    ctx: PlanContext,
    plans: Sequence[MeetingPlan],
    *,
    busy: Sequence[Interval],
    taken: Sequence[Interval],
) -> tuple[WriteIntent, Interval] | None:
    """One block for the drafts of one or more meetings (a half-day's batch), in the first
    free working-hours slot before the 24-hour mark (else before the deadline: PLAYBOOK §1).
    Offered slots are in `busy`: a block never lands inside a time the user proposed."""
    items = [p.block_item for p in plans if p.block_item is not None and p.block_item.drafts]
    if not items:
        return None
    first = min(items, key=lambda i: (i.meeting.end, i.meeting.uid)).meeting
    last_end = max(i.meeting.end for i in items)
    minutes = first_touch_block_minutes(ctx, sum(len(i.drafts) for i in items))
    schedule = ctx.schedule.model_copy(update={"block_minutes": minutes})
    placement: Placement = place_block(
        last_end, now=ctx.now, busy=[*busy, *taken], schedule=schedule, tz=ctx.user.tz
    )
    payload = ctx.composer.first_touch_block(
        items,
        start=placement.start,
        end=placement.end,
        conflict=placement.conflict,
        where_drafts_are=ctx.where_drafts_are,
        tz=ctx.user.tz,
    )
    intent = WriteIntent(
        key=keys.touch_key(ctx.account, first.uid, first.occurrence, "", 0, "block"),
        kind=WriteKind.BLOCK,
        payload=payload,
        due=max(first_touch_due(i.meeting, ctx.schedule) for i in items),
        person="",
        meeting_uid=first.uid,
        occurrence=first.occurrence,
        touch=0,
    )
    return intent, Interval(placement.start, placement.end)


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

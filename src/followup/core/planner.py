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
from followup.core.compose import Composer, DraftRef, contact_note
from followup.core.drafting import (
    BlockDraft,
    BlockItem,
    FirstNote,
    Recipient,
    note_language,
    person_label,
)
from followup.core.later import LaterTouch, later_touch
from followup.core.material import Material
from followup.core.names import organization_from_email, parse_name
from followup.core.offdays import OffDays
from followup.core.slots import (
    PROPOSAL_WORKING_DAYS,
    Placement,
    free_slots,
    place_block,
    propose_slots,
    working_windows,
)
from followup.core.slottext import format_day, format_slot, same_clock
from followup.core.state import PersonState
from followup.model import (
    Attendee,
    BlockPayload,
    ContactPayload,
    DraftPayload,
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
    "weekly_slot",
]

ALREADY_IN_TOUCH = "already_in_touch"
PAST_DEADLINE = "past_deadline"
# How far after a nurture touch is due its block may go.
NURTURE_SEARCH_DAYS = 14
# The cadence after `unanswered_limit` touches in a row went unanswered ("quarterly").
QUARTERLY_DAYS = 91
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
    # A time held on the calendar is one draft's; otherwise two open drafts may share one.
    for shared in (False,) if ctx.drafts.hold_offers else (False, True):
        busy = _proposal_busy(ctx, occupied, offers, their_tz, window, allow_shared=shared)
        found = propose_slots(after, busy=[*busy, *slots], schedule=ctx.schedule, tz=tz,
                              count=wanted - len(slots))
        slots = sorted([*slots, *found], key=lambda s: s.start)
        if len(slots) >= wanted:
            break
    return slots


def send_window_start(ctx: PlanContext, meeting: Meeting) -> datetime:
    """When the user can first act on a meeting's follow-up: the first working instant at or
    after its end plus grace (now, within working hours). Proposals start on the working day
    after it; a block waits for it."""
    return working_start(ctx, max(ctx.now, first_touch_due(meeting, ctx.schedule)))


def working_start(ctx: PlanContext, after: datetime) -> datetime:
    """The first working instant at or after `after` (itself, within working hours)."""
    window = next(
        working_windows(ctx.schedule, ctx.user.tz, after, after + timedelta(days=14)), None)
    return window.start if window is not None else after


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
    after = send_window_start(ctx, meeting)
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
        if ctx.drafts.hold_offers:
            plan.intents.extend(_holds(ctx, meeting, group, key, slots, draft.to))
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


def hold_key(draft_key: str, slot: Interval) -> str:
    """The key of the tentative event holding one offered slot of one draft."""
    return keys.touch_key("hold", draft_key, slot.start, "", 0, "block")


def _holds(
    ctx: PlanContext,
    meeting: Meeting,
    group: Sequence[Attendee],
    draft_key: str,
    slots: Sequence[Interval],
    to: Sequence[tuple[str | None, str]],
) -> list[WriteIntent]:
    """Tentative events holding a draft's offered times ([drafts] hold_offers)."""
    who = ", ".join(name or addr for name, addr in to)
    return [
        WriteIntent(
            key=hold_key(draft_key, slot),
            kind=WriteKind.BLOCK,
            payload=BlockPayload(
                summary=f"Held for {who} (offered in a draft)",
                description=(
                    f"A time offered to {who} in a follow-up draft. followup removes this hold "
                    "when the draft is deleted unsent or the offer lapses; once they pick a "
                    "time, delete the others.\n\nCreated by followup."
                ),
                start=slot.start,
                end=slot.end,
                draft_keys=(draft_key,),
                tentative=True,
            ),
            due=first_touch_due(meeting, ctx.schedule),
            person=group[0].email,
            meeting_uid=meeting.uid,
            occurrence=meeting.occurrence,
            touch=0,
        )
        for slot in slots
    ]


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
    ours: Sequence[Interval] = (),
) -> tuple[WriteIntent, Interval] | None:
    """One block for the drafts of one or more meetings (a half-day's batch), in the first
    free working-hours slot before the 24-hour mark (else before the deadline: PLAYBOOK §1).
    Offered slots are in `busy`: a block never lands inside a time the user proposed.
    `ours`: the follow-up blocks and offered slots within `busy`; with no free time before
    the deadline (a conference week) the block may overlap the user's meetings, not these."""
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
    if placement.conflict:
        placement = _clear_of_ours(ctx, schedule, last_end, placement, [*ours, *taken])
    payload = ctx.composer.first_touch_block(
        items,
        start=placement.start,
        end=placement.end,
        conflict=placement.conflict,
        where_drafts_are=ctx.where_drafts_are,
        tz=ctx.user.tz,
        late=placement.late,
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


def _clear_of_ours(
    ctx: PlanContext,
    schedule: ScheduleConfig,
    meeting_end: datetime,
    placement: Placement,
    ours: Sequence[Interval],
) -> Placement:
    """A conflict placement (no free time before the deadline) moved off the other follow-up
    blocks and the offered slots it would overlap: to the last working slot before the
    deadline clear of them (where place_block puts a conflict), still a conflict. Two
    meetings of a fully booked day must not get their blocks at the same time."""
    spot = Interval(placement.start, placement.end)
    if not any(spot.overlaps(o) for o in ours):
        return placement
    earliest = max(ctx.now, meeting_end + timedelta(minutes=schedule.grace_minutes))
    deadline = meeting_end + timedelta(hours=schedule.deadline_hours)
    clear = list(free_slots(schedule, ctx.user.tz, busy=ours,
                            duration=timedelta(minutes=schedule.block_minutes),
                            start=earliest, end=deadline))
    if not clear:
        return placement
    return Placement(clear[-1].start, clear[-1].end, conflict=True)


def cadence_days(email: str, schedule: ScheduleConfig) -> int:
    """This person's cadence in days: fixed per address (a hash, not chance), spread over
    [cadence_min_days, cadence_max_days] so touches do not all fall due on the same day."""
    low = min(schedule.cadence_min_days, schedule.cadence_max_days)
    high = max(schedule.cadence_min_days, schedule.cadence_max_days)
    digest = hashlib.sha256(email.strip().lower().encode("utf-8")).digest()
    return low + int.from_bytes(digest[:8], "big") % (high - low + 1)


def slowed(state: PersonState, schedule: ScheduleConfig) -> bool:
    """Whether enough touches went unanswered in a row for the cadence to be quarterly."""
    limit = schedule.unanswered_limit
    return bool(limit) and state.unanswered >= limit and schedule.after_unanswered == "quarterly"


def nurture_due(state: PersonState, schedule: ScheduleConfig) -> datetime | None:
    """When the next touch is due (PLAYBOOK §3–4); None while a drafted touch is still open
    (one pending touch per contact), while paused by the user, and once the sequence ended.

    What the contact asked for wins ("ping me in 3 weeks"); after a reply or the user's own
    mail, the conversation must have been quiet for the cadence's minimum; after too many
    unanswered touches the cadence is quarterly."""
    if state.open_touch or state.status in ("paused", "ended"):
        return None
    if state.asked_at is not None and state.asked_at > state.anchor:
        return state.asked_at
    if state.status == "talking":
        return state.anchor + timedelta(days=schedule.cadence_min_days)
    days = QUARTERLY_DAYS if slowed(state, schedule) else cadence_days(state.email, schedule)
    return state.anchor + timedelta(days=days)


def _touch_of(ctx: PlanContext, item: LaterTouch | PersonState) -> LaterTouch:
    if isinstance(item, LaterTouch):
        return item
    due = nurture_due(item, ctx.schedule) or ctx.now
    return later_touch(item, due, None, [], ctx.user.language)


def _nurture_draft(ctx: PlanContext, touch: LaterTouch, due: datetime) -> WriteIntent:
    state = touch.state
    key = keys.touch_key(ctx.account, "", None, state.email, state.touches, "draft")
    return WriteIntent(
        key=key,
        kind=WriteKind.DRAFT,
        payload=ctx.composer.nurture(touch, key=key, tz=ctx.user.tz),
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
    block = timedelta(minutes=min(schedule.block_minutes, schedule.weekly_block_minutes))
    day = after.astimezone(tz).date()
    while True:
        if day.weekday() == target:
            weekly_at = datetime.combine(day, schedule.weekly_time, tzinfo=tz).astimezone(UTC)
            day_end = datetime.combine(day, schedule.day_end, tzinfo=tz).astimezone(UTC)
            if after <= weekly_at or after + block <= day_end:
                return datetime.combine(day, time(0, 0), tzinfo=tz).astimezone(UTC)
        day += timedelta(days=1)


@dataclass(frozen=True, slots=True)
class WeeklySlot:
    """Where the weekly batch goes: `usual` names the week (its weekly day, for the key);
    `at` is the weekly time on the day it really takes (the working day before a holiday
    or a day away); `moved` says why it is not the usual day."""

    usual: datetime  # local midnight of the usual weekly day, as UTC
    at: datetime
    moved: str = ""


def weekly_slot(ctx: PlanContext, after: datetime, offdays: OffDays | None = None) -> WeeklySlot:
    """The next weekly batch at or after `after`, moved to the previous working day when its
    day is a public holiday or a day the user is away (PLAYBOOK §3)."""
    tz = ctx.user.tz
    usual = _weekly_slot_day(ctx, after)
    day = usual.astimezone(tz).date()
    moved = ""
    if offdays is not None and not offdays.working(day):
        why = offdays.why_off(day) or "not a working day"
        earlier = offdays.previous_working(day)
        if earlier is None or earlier < after.astimezone(tz).date():
            earlier = offdays.next_working(day)  # too late to move back: the next one
        if earlier is not None:
            moved = f"{format_day(usual, tz)} is {why}"
            day = earlier
    at = datetime.combine(day, ctx.schedule.weekly_time, tzinfo=tz).astimezone(UTC)
    return WeeklySlot(usual=usual, at=at, moved=moved)


def weekly_block_minutes(schedule: ScheduleConfig, count: int) -> int:
    """A weekly block sized to its batch: a few minutes per touch, at least the usual block,
    at most `weekly_block_minutes`."""
    cap = schedule.weekly_block_minutes
    return max(min(schedule.block_minutes, cap), min(cap, count * schedule.minutes_per_draft))


def _chunks(touches: Sequence[LaterTouch], schedule: ScheduleConfig) -> list[list[LaterTouch]]:
    """The batch split into blocks that each fit `weekly_block_minutes`."""
    per_block = max(1, schedule.weekly_block_minutes // schedule.minutes_per_draft)
    return [list(touches[i : i + per_block]) for i in range(0, len(touches), per_block)]


def part_key(account: str, usual: datetime, part: int) -> str:
    """The key of one block of a week's batch: the week's key, then one per further part."""
    return keys.weekly_key(account, usual + timedelta(seconds=part))


def _off_time(
    offdays: OffDays | None, tz: ZoneInfo, start: datetime, days: int
) -> list[Interval]:
    """Whole days off (holidays, days away) from `start` for `days`, as busy time."""
    if offdays is None:
        return []
    out = []
    day = start.astimezone(tz).date()
    for _ in range(days + 1):
        if offdays.holiday(day) is not None or offdays.away(day):
            begin = datetime.combine(day, time(0, 0), tzinfo=tz).astimezone(UTC)
            out.append(Interval(begin, begin + timedelta(days=1)))
        day += timedelta(days=1)
    return out


def plan_nurture(
    ctx: PlanContext,
    due: Sequence[LaterTouch | PersonState],
    *,
    busy: Sequence[Interval],
    taken: Sequence[Interval],
    offdays: OffDays | None = None,
    part: int = 0,
    ours: Sequence[Interval] = (),
) -> list[WriteIntent]:
    """Drafts and blocks for the people whose next touch is due (PLAYBOOK §3).

    One DRAFT each (touch number = touches so far), written no earlier than the touch is
    due; someone who asked for a call gets no draft, their block says to call. Blocks: with
    `weekly_batch`, the batch goes on the weekly day at `weekly_time` (or the first free
    slot after it that day), on the working day before when that day is a holiday or a day
    away, sized to the batch and split when it does not fit one block; otherwise one block
    each, at the first free working slot after the touch is due. People with an open touch,
    paused or ended are left out. `part`: how many blocks this week's batch already has.
    `ours`: the follow-up blocks and offered slots within `busy`; a block with no free time
    left may overlap the user's meetings, not these.
    """
    touches = [
        t for t in (_touch_of(ctx, d) for d in due)
        if not t.state.open_touch and t.state.status not in ("paused", "ended")
    ]
    if not touches:
        return []
    intents: list[WriteIntent] = []
    tz = ctx.user.tz
    drafts: dict[str, DraftRef] = {}
    written: dict[str, datetime] = {}
    for t in touches:
        if t.call:
            continue
        # Never before the touch is due: batching must not bring a touch forward.
        when = max(ctx.now, t.due)
        intent = _nurture_draft(ctx, t, when)
        assert isinstance(intent.payload, DraftPayload)
        drafts[t.state.email] = DraftRef(intent.key, intent.payload.subject)
        written[t.state.email] = when
        intents.append(intent)

    occupied = [*busy, *taken]
    # What even a block with no free time left must not overlap: the other follow-up blocks
    # and the offered slots (`ours`, within `busy`), this cycle's, and those placed here.
    avoid = [*ours, *taken]
    if ctx.schedule.weekly_batch:
        latest = max(ctx.now, max(t.due for t in touches))
        slot = weekly_slot(ctx, latest, offdays)
        start_at = max(slot.at, ctx.now)
        local_day = start_at.astimezone(tz).date()
        day_begin = datetime.combine(local_day, time(0, 0), tzinfo=tz).astimezone(UTC)
        day_end = day_begin + timedelta(days=1)
        for i, chunk in enumerate(_chunks(touches, ctx.schedule)):
            minutes = weekly_block_minutes(ctx.schedule, len(chunk))
            # After the weekly time that day, else earlier that day; else keep the habit
            # and flag the conflict, off the other follow-up blocks when the day allows.
            placement = (
                _free_only(ctx, start_at, day_end, minutes, occupied)
                or _free_only(ctx, max(day_begin, ctx.now), start_at, minutes, occupied)
                or _conflict(_free_only(ctx, start_at, day_end, minutes, avoid)
                             or _free_only(ctx, max(day_begin, ctx.now), start_at, minutes,
                                           avoid))
                or Placement(start_at, start_at + timedelta(minutes=minutes), conflict=True)
            )
            occupied.append(Interval(placement.start, placement.end))
            avoid.append(Interval(placement.start, placement.end))
            payload = ctx.composer.nurture_block(
                chunk, start=placement.start, end=placement.end, conflict=placement.conflict,
                where_drafts_are=ctx.where_drafts_are, tz=tz, drafts=drafts,
                moved=slot.moved, schedule=ctx.schedule,
            )
            dues = [written.get(t.state.email, max(ctx.now, t.due)) for t in chunk]
            intents.append(
                WriteIntent(
                    key=part_key(ctx.account, slot.usual, part + i),
                    kind=WriteKind.BLOCK,
                    payload=payload,
                    due=max(dues),  # after its drafts, so it can link to them
                    person="",
                )
            )
        return intents

    for t in touches:
        start = max(ctx.now, t.due)
        minutes = ctx.schedule.block_minutes
        off = _off_time(offdays, tz, start, NURTURE_SEARCH_DAYS)
        placement = _free_only(
            ctx, start, start + timedelta(days=NURTURE_SEARCH_DAYS), minutes, [*occupied, *off]
        ) or _conflict(_free_only(
            ctx, start, start + timedelta(days=NURTURE_SEARCH_DAYS), minutes, [*avoid, *off]
        )) or _first_free(
            ctx, start, start + timedelta(days=NURTURE_SEARCH_DAYS), minutes, off
        ) or Placement(start, start + timedelta(minutes=minutes), conflict=True)
        occupied.append(Interval(placement.start, placement.end))
        avoid.append(Interval(placement.start, placement.end))
        payload = ctx.composer.nurture_block(
            [t], start=placement.start, end=placement.end, conflict=placement.conflict,
            where_drafts_are=ctx.where_drafts_are, tz=tz, drafts=drafts,
            schedule=ctx.schedule,
        )
        intents.append(
            WriteIntent(
                key=keys.touch_key(ctx.account, "", None, t.state.email, t.state.touches,
                                   "block"),
                kind=WriteKind.BLOCK,
                payload=payload,
                due=t.due if t.due > ctx.now else ctx.now,
                person=t.state.email,
                touch=t.state.touches,
            )
        )
    return intents


def _conflict(placement: Placement | None) -> Placement | None:
    """A slot free of our own blocks only: on the user's busy time, so a conflict."""
    return None if placement is None else Placement(placement.start, placement.end, True)


def _free_only(
    ctx: PlanContext, start: datetime, end: datetime, minutes: int, occupied: Sequence[Interval]
) -> Placement | None:
    """The first free working-hours slot in [start, end), or None."""
    slot = next(
        free_slots(ctx.schedule, ctx.user.tz, busy=occupied, duration=timedelta(minutes=minutes),
                   start=start, end=end),
        None,
    )
    return None if slot is None else Placement(slot.start, slot.end, conflict=False)

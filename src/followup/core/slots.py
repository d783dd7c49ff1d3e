"""Free time in the user's working hours: where a follow-up block goes, which slots to propose.

All arithmetic is done in UTC and every day's working hours are built from the local date in
the user's zone, so a day that loses or gains an hour (DST) still has its 9:00 at 9:00 local.
(Arithmetic on aware datetimes sharing one ZoneInfo is wall-clock arithmetic in Python; that is
why nothing here adds a timedelta to a local time.)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from followup.config import WEEKDAYS, ScheduleConfig
from followup.model import Interval

# Blocks start on a 5-minute mark; proposed slots on the half hour (as people propose them).
BLOCK_STEP = timedelta(minutes=5)
PROPOSAL_STEP = timedelta(minutes=30)
# How far past the deadline a late block looks for working time.
LATE_SEARCH_DAYS = 14
# How many working days ahead meeting proposals may go.
PROPOSAL_WORKING_DAYS = 5
# Where in the working day proposals aim, as fractions of it: mid-morning, mid-afternoon...
_TIME_OF_DAY_TARGETS = (0.2, 0.65, 0.4, 0.85, 0.05)


@dataclass(frozen=True, slots=True)
class Placement:
    start: datetime
    end: datetime
    conflict: bool = False  # no free working-hours slot before the deadline
    late: bool = False  # no working time at all before the deadline: the first after it


def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime {dt.isoformat()}: all times must be timezone-aware")
    return dt.astimezone(UTC)


def _local_at(day: date, at: time, tz: ZoneInfo) -> datetime:
    """`at` on `day` in `tz`, as UTC.

    A wall time inside a DST gap (02:30 on a spring-forward night) maps past the gap, and an
    ambiguous one (autumn) to its first occurrence: zoneinfo's fold=0 rules (PEP 495).
    """
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def _working_weekdays(schedule: ScheduleConfig) -> frozenset[int]:
    return frozenset(WEEKDAYS.index(d) for d in schedule.working_days)


def working_windows(
    schedule: ScheduleConfig, tz: ZoneInfo, start: datetime, end: datetime
) -> Iterator[Interval]:
    """Working-hours intervals (UTC) overlapping [start, end), clipped to it, in order."""
    start, end = _utc(start), _utc(end)
    workdays = _working_weekdays(schedule)
    if not workdays or schedule.day_end <= schedule.day_start:
        return
    day = start.astimezone(tz).date()
    last = end.astimezone(tz).date()
    while day <= last:
        if day.weekday() in workdays:
            w_start = max(_local_at(day, schedule.day_start, tz), start)
            w_end = min(_local_at(day, schedule.day_end, tz), end)
            if w_start < w_end:
                yield Interval(w_start, w_end)
        day += timedelta(days=1)


def is_working_time(schedule: ScheduleConfig, tz: ZoneInfo, span: Interval) -> bool:
    """Whether `span` lies within one working day's hours."""
    day = _utc(span.start).astimezone(tz).date()
    if day.weekday() not in _working_weekdays(schedule):
        return False
    w_start = _local_at(day, schedule.day_start, tz)
    w_end = _local_at(day, schedule.day_end, tz)
    return w_start <= _utc(span.start) and _utc(span.end) <= w_end


def _round_up(dt: datetime, step: timedelta, tz: ZoneInfo) -> datetime:
    """The first instant at or after `dt` that is on a `step` mark of the local clock."""
    local = dt.astimezone(tz)
    midnight_offset = timedelta(
        hours=local.hour,
        minutes=local.minute,
        seconds=local.second,
        microseconds=local.microsecond,
    )
    rest = midnight_offset % step
    return dt if not rest else dt + (step - rest)


def _normalise(busy: Sequence[Interval]) -> list[Interval]:
    """Busy intervals in UTC, sorted and merged."""
    spans = sorted(
        (Interval(_utc(b.start), _utc(b.end)) for b in busy if b.end > b.start),
        key=lambda b: b.start,
    )
    merged: list[Interval] = []
    for b in spans:
        if merged and b.start <= merged[-1].end:
            if b.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, b.end)
        else:
            merged.append(b)
    return merged


def free_slots(
    schedule: ScheduleConfig,
    tz: ZoneInfo,
    *,
    busy: Sequence[Interval],
    duration: timedelta,
    start: datetime,
    end: datetime,
    step: timedelta = BLOCK_STEP,
) -> Iterator[Interval]:
    """Every free slot of `duration` in working hours within [start, end), on `step` marks,
    earliest first. Slots that overlap each other are all listed (one per step)."""
    # Only what touches the window matters. Filtering first keeps a cycle that places
    # hundreds of blocks against thousands of busy intervals linear, not quadratic.
    merged = _normalise([b for b in busy if b.end > start and b.start < end])
    for window in working_windows(schedule, tz, start, end):
        t = _round_up(window.start, step, tz)
        i = 0
        while t + duration <= window.end:
            slot = Interval(t, t + duration)
            while i < len(merged) and merged[i].end <= slot.start:
                i += 1
            if i < len(merged) and merged[i].overlaps(slot):
                t = _round_up(merged[i].end, step, tz)
                continue
            yield slot
            t += step


def place_block(
    meeting_end: datetime,
    *,
    now: datetime,
    busy: Sequence[Interval],
    schedule: ScheduleConfig,
    tz: ZoneInfo,
) -> Placement:
    """Where the "send the follow-up" block goes (PLAYBOOK §1).

    The first free working-hours slot after max(now, meeting end + grace) that ends within
    target_hours of the meeting's end; else the first that ends before deadline_hours; else,
    marked as a conflict, the last working-hours slot that ends by the deadline (busy or not).
    When no working time is left before the deadline at all, never a slot outside working
    hours: the first free working-hours slot after it (else the first working slot), marked
    late so the block can say so.
    """
    meeting_end = _utc(meeting_end)
    duration = timedelta(minutes=schedule.block_minutes)
    earliest = max(_utc(now), meeting_end + timedelta(minutes=schedule.grace_minutes))
    deadline = meeting_end + timedelta(hours=schedule.deadline_hours)
    target = min(meeting_end + timedelta(hours=schedule.target_hours), deadline)
    for limit in (target, deadline):
        slot = next(
            free_slots(schedule, tz, busy=busy, duration=duration, start=earliest, end=limit),
            None,
        )
        if slot is not None:
            return Placement(slot.start, slot.end)
    windows = [
        w for w in working_windows(schedule, tz, earliest, deadline) if w.end - w.start >= duration
    ]
    if windows:
        last = windows[-1]
        return Placement(last.end - duration, last.end, conflict=True)
    after = Interval(earliest, earliest + timedelta(days=LATE_SEARCH_DAYS))
    for occupied in (busy, ()):
        late = next(free_slots(schedule, tz, busy=occupied, duration=duration,
                               start=after.start, end=after.end), None)
        if late is not None:
            return Placement(late.start, late.end, conflict=bool(occupied is not busy),
                             late=True)
    # No working day at all (an empty working week is refused by the config): keep the time.
    start = max(earliest, deadline - duration)
    return Placement(start, start + duration, conflict=True)


def next_working_day_start(
    schedule: ScheduleConfig, tz: ZoneInfo, after: datetime
) -> datetime | None:
    """The start of working hours on the first working day after `after`'s local date."""
    workdays = _working_weekdays(schedule)
    if not workdays:
        return None
    day = _utc(after).astimezone(tz).date() + timedelta(days=1)
    while day.weekday() not in workdays:
        day += timedelta(days=1)
    return _local_at(day, schedule.day_start, tz)


def _target_time(day: date, fraction: float, schedule: ScheduleConfig, tz: ZoneInfo) -> datetime:
    start = _local_at(day, schedule.day_start, tz)
    end = _local_at(day, schedule.day_end, tz)
    return start + (end - start) * fraction


def propose_slots(
    after: datetime,
    *,
    busy: Sequence[Interval],
    schedule: ScheduleConfig,
    tz: ZoneInfo,
    count: int | None = None,
) -> list[Interval]:
    """Free slots to propose for a next conversation (PLAYBOOK §2).

    `schedule.proposed_slots` slots (or `count`) of proposed_slot_minutes, on the working days
    after `after`'s local date (pass max(now, the block's end)), within PROPOSAL_WORKING_DAYS
    working days. One slot per day where possible, alternating morning and afternoon; then
    more on days already used. `busy` should include the follow-up block and blocks already
    placed. Sorted by time.
    """
    wanted = schedule.proposed_slots if count is None else count
    first = next_working_day_start(schedule, tz, after)
    if wanted <= 0 or first is None:
        return []
    duration = timedelta(minutes=schedule.proposed_slot_minutes)
    days: list[date] = []
    day = first.astimezone(tz).date()
    workdays = _working_weekdays(schedule)
    while len(days) < PROPOSAL_WORKING_DAYS:
        if day.weekday() in workdays:
            days.append(day)
        day += timedelta(days=1)

    by_day: dict[date, list[Interval]] = {}
    for d in days:
        start = _local_at(d, time(0, 0), tz)
        end = _local_at(d + timedelta(days=1), time(0, 0), tz)
        by_day[d] = list(
            free_slots(
                schedule, tz, busy=busy, duration=duration, start=start, end=end, step=PROPOSAL_STEP
            )
        )

    chosen: list[Interval] = []
    targets = iter(_TIME_OF_DAY_TARGETS * (wanted + len(days)))
    # First pass: one slot a day; later passes: more on the same days, away from the ones taken.
    for _ in range(wanted):
        for d in days:
            if len(chosen) >= wanted:
                break
            options = [s for s in by_day[d] if not any(s.overlaps(c) for c in chosen)]
            if not options:
                continue
            target = _target_time(d, next(targets), schedule, tz)
            best = min(options, key=lambda s: (abs((s.start - target).total_seconds()), s.start))
            chosen.append(best)
        if len(chosen) >= wanted:
            break
        if not any(s for d in days for s in by_day[d] if not any(s.overlaps(c) for c in chosen)):
            break
    return sorted(chosen, key=lambda s: s.start)


def next_weekly_slot(after: datetime, schedule: ScheduleConfig, tz: ZoneInfo) -> datetime:
    """The first weekly follow-up time (weekly_day at weekly_time, local) strictly after
    `after`."""
    local = after.astimezone(tz)
    days_ahead = (WEEKDAYS.index(schedule.weekly_day) - local.weekday()) % 7
    for extra in (0, 7):
        day = local.date() + timedelta(days=days_ahead + extra)
        slot = datetime.combine(day, schedule.weekly_time, tzinfo=tz).astimezone(UTC)
        if slot > after:
            return slot
    raise AssertionError("a weekly slot always falls within two weeks")

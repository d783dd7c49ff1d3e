"""PLAYBOOK §1 timing: the block in the first free working slot, before 24 h, never after 72 h;
proposed slots real and free. Includes weekends and DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from followup.config import ScheduleConfig
from followup.core.slots import is_working_time, place_block, propose_slots, working_windows
from followup.model import Interval

from .factories import BERLIN, NEW_YORK, SCHEDULE, local

KOLKATA = ZoneInfo("Asia/Kolkata")


def block_after(end: datetime, busy: list[Interval] | None = None, now: datetime | None = None):
    return place_block(end, now=now or end, busy=busy or [], schedule=SCHEDULE, tz=BERLIN)


def test_free_afternoon_gets_the_block_right_after_the_grace_period() -> None:
    p = block_after(local(2026, 3, 3, 11))  # Tuesday
    assert (p.start, p.end, p.conflict) == (
        local(2026, 3, 3, 11, 10),
        local(2026, 3, 3, 11, 25),
        False,
    )


def test_block_starts_on_a_five_minute_mark_after_now() -> None:
    p = block_after(local(2026, 3, 3, 11), now=local(2026, 3, 3, 13, 2))
    assert p.start == local(2026, 3, 3, 13, 5)


def test_busy_rest_of_day_moves_the_block_to_next_morning_within_24_hours() -> None:
    busy = [Interval(local(2026, 3, 3, 11), local(2026, 3, 3, 18))]
    p = block_after(local(2026, 3, 3, 11), busy)
    assert p.start == local(2026, 3, 4, 9)
    assert p.end <= local(2026, 3, 3, 11) + timedelta(hours=24)


def test_block_fits_in_a_gap_between_busy_times() -> None:
    busy = [
        Interval(local(2026, 3, 3, 11), local(2026, 3, 3, 14)),
        Interval(local(2026, 3, 3, 14, 20), local(2026, 3, 3, 16)),
        Interval(local(2026, 3, 3, 16, 10), local(2026, 3, 3, 17)),
    ]
    p = block_after(local(2026, 3, 3, 11), busy)
    # 14:00-14:20 has room for 15 minutes; 16:00-16:10 does not.
    assert (p.start, p.end) == (local(2026, 3, 3, 14), local(2026, 3, 3, 14, 15))


def test_friday_evening_meeting_goes_to_monday_before_the_72_hour_deadline() -> None:
    end = local(2026, 3, 6, 17, 30)  # Friday, at the end of working hours
    p = block_after(end)
    assert p.start == local(2026, 3, 9, 9)  # Monday: past 24 h, within 72 h
    assert not p.conflict


def test_no_free_time_before_the_deadline_places_a_conflict_at_the_last_working_slot() -> None:
    end = local(2026, 3, 6, 17, 30)  # Friday -> deadline Monday 17:30
    busy = [Interval(local(2026, 3, 9, 8), local(2026, 3, 9, 18))]
    p = block_after(end, busy)
    assert p.conflict
    assert p.end == local(2026, 3, 9, 17, 30)
    assert is_working_time(SCHEDULE, BERLIN, Interval(p.start, p.end))


def test_no_working_time_left_at_all_gives_the_first_working_slot_after_the_deadline() -> None:
    # Never a block on Saturday evening: Monday 9:00, marked late (the block says so).
    schedule = ScheduleConfig(deadline_hours=24)
    end = local(2026, 3, 6, 17, 30)  # Friday -> deadline Saturday 17:30
    p = place_block(end, now=end, busy=[], schedule=schedule, tz=BERLIN)
    assert p.late and not p.conflict
    assert p.start == local(2026, 3, 9, 9)
    busy = [Interval(local(2026, 3, 9, 9), local(2026, 3, 9, 12))]
    assert place_block(end, now=end, busy=busy, schedule=schedule, tz=BERLIN).start == local(
        2026, 3, 9, 12)


def test_spring_forward_weekend_keeps_nine_o_clock_local() -> None:
    # Europe/Berlin goes from UTC+1 to UTC+2 on Sunday 29 March 2026.
    end = local(2026, 3, 27, 17, 30)
    p = block_after(end)
    assert p.start == local(2026, 3, 30, 9)
    assert p.start.astimezone(UTC).hour == 7
    # 72 h after Friday 16:30 UTC is Monday 16:30 UTC = 18:30 local: still in time.
    assert p.end <= end + timedelta(hours=72)


def test_fall_back_weekend_keeps_nine_o_clock_local() -> None:
    end = local(2026, 10, 23, 17, 30)  # Friday; clocks go back on Sunday 25 October
    p = block_after(end)
    assert p.start == local(2026, 10, 26, 9)
    assert p.start.astimezone(UTC).hour == 8


def test_deadline_counts_real_hours_across_dst() -> None:
    # Friday 18:00 local before spring forward: 72 real hours later is Monday 19:00 local.
    end = local(2026, 3, 27, 18)
    busy = [Interval(local(2026, 3, 30, 8), local(2026, 3, 30, 18, 30))]
    p = block_after(end, busy)
    assert p.conflict  # Monday is full and Tuesday is past the deadline
    assert p.end == local(2026, 3, 30, 17, 30)


def test_working_windows_follow_the_configured_days_and_hours() -> None:
    schedule = ScheduleConfig(working_days=["sun", "mon"], day_start=time(8), day_end=time(12))
    windows = list(working_windows(schedule, BERLIN, local(2026, 3, 6), local(2026, 3, 10)))
    assert windows == [
        Interval(local(2026, 3, 8, 8), local(2026, 3, 8, 12)),
        Interval(local(2026, 3, 9, 8), local(2026, 3, 9, 12)),
    ]


# --- proposals --------------------------------------------------------------------------------


def test_three_proposals_on_different_following_days_and_times_of_day() -> None:
    slots = propose_slots(local(2026, 3, 3, 11, 25), busy=[], schedule=SCHEDULE, tz=BERLIN)
    assert len(slots) == 3
    days = [s.start.date() for s in slots]
    assert days == [local(2026, 3, d).date() for d in (4, 5, 6)]
    assert len({s.start.astimezone(BERLIN).hour for s in slots}) == 3
    assert {s.start.astimezone(BERLIN).hour < 12 for s in slots} == {True, False}
    for s in slots:
        assert s.end - s.start == timedelta(minutes=30)
        assert s.start.astimezone(BERLIN).minute in (0, 30)


def test_proposals_skip_the_weekend_and_busy_days() -> None:
    after = local(2026, 3, 6, 11)  # Friday
    busy = [Interval(local(2026, 3, 9, 0), local(2026, 3, 10, 0))]  # all Monday
    slots = propose_slots(after, busy=busy, schedule=SCHEDULE, tz=BERLIN)
    assert [s.start.astimezone(BERLIN).day for s in slots] == [10, 11, 12]


def test_proposals_double_up_on_a_day_only_when_other_days_are_full() -> None:
    schedule = ScheduleConfig(working_days=["wed"])
    after = local(2026, 3, 3, 12)
    busy = [Interval(local(2026, 3, 11, 0), local(2026, 4, 30))]  # only Wed 4 March is free
    slots = propose_slots(after, busy=busy, schedule=schedule, tz=BERLIN)
    assert len(slots) == 3
    assert {s.start.date() for s in slots} == {local(2026, 3, 4).date()}
    assert all(not a.overlaps(b) for i, a in enumerate(slots) for b in slots[i + 1 :])


def test_no_proposals_when_asked_for_none() -> None:
    schedule = ScheduleConfig(proposed_slots=0)
    assert propose_slots(local(2026, 3, 3, 12), busy=[], schedule=schedule, tz=BERLIN) == []


def test_proposals_in_a_half_hour_offset_zone_stay_on_local_half_hours() -> None:
    after = datetime(2026, 3, 3, 12, tzinfo=KOLKATA)
    slots = propose_slots(after, busy=[], schedule=SCHEDULE, tz=KOLKATA)
    assert all(s.start.astimezone(KOLKATA).minute in (0, 30) for s in slots)


# --- properties ---------------------------------------------------------------------------------

ZONES = st.sampled_from([BERLIN, NEW_YORK, KOLKATA, ZoneInfo("Australia/Lord_Howe")])
# Around the 2026 DST changes in Europe, the US and Australia, and ordinary weeks.
BASE_DAYS = st.sampled_from(
    [datetime(2026, 3, d) for d in (5, 6, 7, 26, 27, 28)]
    + [datetime(2026, 10, d) for d in (1, 2, 3, 22, 23, 24)]
    + [datetime(2026, 10, 30), datetime(2026, 11, 5), datetime(2026, 6, 15)]
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[ZoneInfo, datetime, datetime, list[Interval]]:
    tz = draw(ZONES)
    day = draw(BASE_DAYS)
    # Any local time of the day (even one inside a DST gap), then absolute (UTC) arithmetic:
    # adding hours to a ZoneInfo-aware datetime would add wall-clock hours.
    start = day.replace(tzinfo=tz) + timedelta(minutes=draw(st.integers(0, 24 * 60 - 1)))
    start = start.astimezone(UTC)
    end = start + timedelta(minutes=draw(st.integers(15, 180)))
    now = end + timedelta(minutes=draw(st.integers(0, 3 * 24 * 60)))
    busy = []
    for _ in range(draw(st.integers(0, 25))):
        b_start = end + timedelta(minutes=draw(st.integers(-120, 5 * 24 * 60)))
        busy.append(Interval(b_start, b_start + timedelta(minutes=draw(st.integers(5, 600)))))
    return tz, end, now, busy


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_block_placement_properties(s: tuple[ZoneInfo, datetime, datetime, list[Interval]]) -> None:
    tz, end, now, busy = s
    p = place_block(end, now=now, busy=busy, schedule=SCHEDULE, tz=tz)
    earliest = max(now, end + timedelta(minutes=SCHEDULE.grace_minutes))
    deadline = end + timedelta(hours=SCHEDULE.deadline_hours)
    duration = timedelta(minutes=SCHEDULE.block_minutes)
    assert p.end - p.start == duration
    assert p.start >= earliest
    if p.late:
        # No working time before the deadline: the first working time after it, never a
        # slot outside working hours.
        assert not any(w.end - w.start >= duration
                       for w in working_windows(SCHEDULE, tz, earliest, deadline))
        assert is_working_time(SCHEDULE, tz, Interval(p.start, p.end))
    elif earliest + duration <= deadline:
        assert p.end <= deadline
    if not p.conflict:
        span = Interval(p.start, p.end)
        assert is_working_time(SCHEDULE, tz, span)
        assert not any(span.overlaps(b) for b in busy)


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_proposal_properties(s: tuple[ZoneInfo, datetime, datetime, list[Interval]]) -> None:
    tz, _end, now, busy = s
    slots = propose_slots(now, busy=busy, schedule=SCHEDULE, tz=tz)
    assert len(slots) <= SCHEDULE.proposed_slots
    assert slots == sorted(slots, key=lambda x: x.start)
    for i, slot in enumerate(slots):
        assert slot.start > now
        assert slot.start.astimezone(tz).date() > now.astimezone(tz).date()
        assert is_working_time(SCHEDULE, tz, slot)
        assert not any(slot.overlaps(b) for b in busy)
        assert not any(slot.overlaps(other) for other in slots[i + 1 :])

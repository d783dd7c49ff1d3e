"""Meetings from sources: changes applied in order, windows, merging, processed, series."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from followup.ledger import Ledger
from followup.model import Attendee, CalendarChanges, Meeting, OccurrenceRef

from .conftest import T0

CAL = "calendar:work"
MAIL = "mail:inbox"
DAY = timedelta(days=1)


def meeting(uid: str, start: datetime, *, hours: float = 1, **kw: Any) -> Meeting:
    return Meeting(uid=uid, start=start, end=start + timedelta(hours=hours), **kw)


def weekly(uid: str, n: int, **kw: Any) -> list[Meeting]:
    """Occurrences of a weekly series starting at T0."""
    return [
        meeting(
            uid,
            T0 + timedelta(weeks=i),
            recurrence_id=T0 + timedelta(weeks=i),
            series_start=T0,
            **kw,
        )
        for i in range(n)
    ]


def everything(ledger: Ledger, account: str = "a") -> list[Meeting]:
    return ledger.meetings(account, T0 - 1000 * DAY, T0 + 1000 * DAY)


def test_upserted_meetings_come_back_equal(ledger: Ledger) -> None:
    m = meeting(
        "u1",
        datetime(2025, 3, 10, 10, 0, tzinfo=ZoneInfo("Europe/Paris")),
        title="Coffee with Jane",
        attendees=(Attendee("jane@acme.test", "Jane Doe"),),
        source=CAL,
    )
    ledger.apply_changes("a", CAL, CalendarChanges(upserts=[m]))
    assert everything(ledger) == [m]
    assert everything(ledger, "other-account") == []


def test_upsert_replaces_the_stored_copy(ledger: Ledger) -> None:
    ledger.apply_changes("a", CAL, CalendarChanges(upserts=[meeting("u1", T0, title="old")]))
    ledger.apply_changes(
        "a", CAL, CalendarChanges(upserts=[meeting("u1", T0, title="new", sequence=1)])
    )
    assert [m.title for m in everything(ledger)] == ["new"]


def test_an_older_copy_from_the_same_source_does_not_replace_a_newer_one(ledger: Ledger) -> None:
    # An invitation mail re-read after its update (or a replayed delta) must not roll back.
    newer = meeting("u1", T0, title="moved", sequence=2, source=MAIL)
    ledger.apply_changes("a", MAIL, CalendarChanges(upserts=[newer]))
    ledger.apply_changes(
        "a", MAIL, CalendarChanges(upserts=[meeting("u1", T0, title="original", sequence=1)])
    )
    assert [m.title for m in everything(ledger)] == ["moved"]
    # The same SEQUENCE replaces: calendars edit events without bumping it.
    ledger.apply_changes(
        "a", MAIL, CalendarChanges(upserts=[meeting("u1", T0, title="retitled", sequence=2)])
    )
    assert [m.title for m in everything(ledger)] == ["retitled"]


def test_removing_one_occurrence_keeps_the_others(ledger: Ledger) -> None:
    series = weekly("s", 3)
    ledger.apply_changes("a", CAL, CalendarChanges(upserts=series))
    ref = OccurrenceRef("s", series[1].occurrence.astimezone(ZoneInfo("Asia/Tokyo")))
    ledger.apply_changes("a", CAL, CalendarChanges(removed=[ref]))
    assert everything(ledger) == [series[0], series[2]]


def test_removing_a_uid_removes_all_its_occurrences_in_that_source_only(ledger: Ledger) -> None:
    ledger.apply_changes("a", CAL, CalendarChanges(upserts=[*weekly("s", 3), meeting("x", T0)]))
    ledger.apply_changes("a", MAIL, CalendarChanges(upserts=[meeting("s", T0 + 30 * DAY)]))
    ledger.apply_changes("a", CAL, CalendarChanges(removed=[OccurrenceRef("s")]))
    assert [(m.uid, m.start) for m in everything(ledger)] == [("x", T0), ("s", T0 + 30 * DAY)]


def test_removals_apply_before_upserts(ledger: Ledger) -> None:
    ledger.apply_changes("a", CAL, CalendarChanges(upserts=weekly("s", 2)))
    moved = meeting("s", T0 + DAY, sequence=2)  # the series became one single event
    ledger.apply_changes("a", CAL, CalendarChanges(upserts=[moved], removed=[OccurrenceRef("s")]))
    assert everything(ledger) == [moved]


def test_full_sync_drops_what_the_source_no_longer_has(ledger: Ledger) -> None:
    ledger.apply_changes(
        "a", CAL, CalendarChanges(upserts=[meeting("keep", T0), meeting("gone", T0)])
    )
    ledger.apply_changes("a", MAIL, CalendarChanges(upserts=[meeting("mail-only", T0)]))
    ledger.apply_changes("b", CAL, CalendarChanges(upserts=[meeting("gone", T0)]))
    ledger.apply_changes(
        "a", CAL, CalendarChanges(upserts=[meeting("keep", T0), meeting("new", T0)], full=True)
    )
    assert sorted(m.uid for m in everything(ledger)) == ["keep", "mail-only", "new"]
    assert [m.uid for m in everything(ledger, "b")] == ["gone"]


def test_incremental_changes_keep_what_they_do_not_mention(ledger: Ledger) -> None:
    ledger.apply_changes("a", CAL, CalendarChanges(upserts=[meeting("one", T0)]))
    ledger.apply_changes("a", CAL, CalendarChanges(upserts=[meeting("two", T0)]))
    assert sorted(m.uid for m in everything(ledger)) == ["one", "two"]


def test_a_repeated_occurrence_in_one_batch_keeps_the_last(ledger: Ledger) -> None:
    first, last = meeting("u", T0, title="first"), meeting("u", T0, title="last")
    ledger.apply_changes("a", CAL, CalendarChanges(upserts=[first, last]))
    assert everything(ledger) == [last]


def test_window_is_half_open_and_returns_overlapping_meetings_in_order(ledger: Ledger) -> None:
    before = meeting("before", T0 - timedelta(hours=1))  # ends exactly at the window start
    straddling = meeting("straddling", T0 - timedelta(minutes=30))
    inside = meeting("inside", T0 + timedelta(hours=2))
    at_end = meeting("at-end", T0 + timedelta(hours=5))  # starts exactly at the window end
    instant = meeting("instant", T0, hours=0)
    ledger.apply_changes(
        "a", CAL, CalendarChanges(upserts=[before, straddling, inside, at_end, instant])
    )
    found = ledger.meetings("a", T0, T0 + timedelta(hours=5))
    assert [m.uid for m in found] == ["straddling", "instant", "inside"]


def test_window_bounds_may_be_in_any_timezone(ledger: Ledger) -> None:
    m = meeting("u", T0)
    ledger.apply_changes("a", CAL, CalendarChanges(upserts=[m]))
    tokyo = ZoneInfo("Asia/Tokyo")
    assert ledger.meetings("a", T0.astimezone(tokyo), (T0 + DAY).astimezone(tokyo)) == [m]


def test_calendar_beats_mail_whatever_the_sequence(ledger: Ledger) -> None:
    # A mail with a higher SEQUENCE may be forged: the user's calendar has the last word.
    from_cal = meeting("u", T0, title="calendar copy", sequence=1, source=CAL)
    from_mail = meeting("u", T0, title="updated invitation", sequence=9, source=MAIL)
    ledger.apply_changes("a", CAL, CalendarChanges(upserts=[from_cal]))
    ledger.apply_changes("a", MAIL, CalendarChanges(upserts=[from_mail]))
    assert everything(ledger) == [from_cal]
    microsoft_mail = replace(from_mail, source="invitations")
    ledger.apply_changes("a", "invitations", CalendarChanges(upserts=[microsoft_mail]))
    assert everything(ledger) == [from_cal]


def test_calendar_beats_mail_at_equal_sequence(ledger: Ledger) -> None:
    from_cal = meeting("u", T0, title="calendar copy", sequence=3, source=CAL)
    from_mail = meeting("u", T0, title="invitation", sequence=3, source=MAIL)
    ledger.apply_changes("a", MAIL, CalendarChanges(upserts=[from_mail]))
    ledger.apply_changes("a", CAL, CalendarChanges(upserts=[from_cal]))
    assert everything(ledger) == [from_cal]


def test_a_newer_copy_moved_out_of_the_window_hides_the_stale_one(ledger: Ledger) -> None:
    old = meeting("u", T0, recurrence_id=T0, series_start=T0, source=MAIL)
    moved = replace(
        old, start=T0 + 3 * DAY, end=T0 + 3 * DAY + timedelta(hours=1), sequence=1, source=CAL
    )
    ledger.apply_changes("a", MAIL, CalendarChanges(upserts=[old]))
    ledger.apply_changes("a", CAL, CalendarChanges(upserts=[moved]))
    assert ledger.meetings("a", T0 - DAY, T0 + DAY) == []
    assert ledger.meetings("a", T0 + 2 * DAY, T0 + 4 * DAY) == [moved]


def test_ten_thousand_upserts_in_one_change(ledger: Ledger) -> None:
    many = [meeting(f"uid-{i}", T0 + timedelta(minutes=15 * i), hours=0.25) for i in range(10_000)]
    ledger.apply_changes("a", CAL, CalendarChanges(upserts=many, full=True))
    assert everything(ledger) == many
    half = many[::2]
    ledger.apply_changes("a", CAL, CalendarChanges(upserts=half, full=True))
    assert everything(ledger) == half


def test_processed_is_per_occurrence(ledger: Ledger) -> None:
    first, second = weekly("s", 2)
    assert not ledger.is_processed("a", first)
    ledger.mark_processed("a", first)
    ledger.mark_processed("a", first)  # twice is harmless
    assert ledger.is_processed("a", first)
    assert ledger.is_processed("a", replace(first, title="renamed", source=MAIL))
    assert not ledger.is_processed("a", second)
    assert not ledger.is_processed("b", first)


def test_processed_survives_the_meeting_being_removed(ledger: Ledger) -> None:
    m = meeting("u", T0)
    ledger.apply_changes("a", CAL, CalendarChanges(upserts=[m]))
    ledger.mark_processed("a", m)
    ledger.apply_changes("a", CAL, CalendarChanges(removed=[OccurrenceRef("u")]))
    assert ledger.is_processed("a", m)


def test_series_members_distinguish_new_from_known_and_empty(ledger: Ledger) -> None:
    assert ledger.series_members("a", "s") is None
    ledger.add_series_members("a", "s", [])
    assert ledger.series_members("a", "s") == frozenset()
    ledger.add_series_members("a", "s", ["jane@acme.test", "bob@acme.test"])
    ledger.add_series_members("a", "s", ["bob@acme.test", "eve@acme.test", "eve@acme.test"])
    assert ledger.series_members("a", "s") == frozenset(
        {"jane@acme.test", "bob@acme.test", "eve@acme.test"}
    )
    assert ledger.series_members("b", "s") is None


def test_cursors_are_per_account_and_source(ledger: Ledger) -> None:
    assert ledger.get_cursor("a", CAL) is None
    ledger.set_cursor("a", CAL, "token-1")
    ledger.set_cursor("a", MAIL, "uidvalidity=7")
    ledger.set_cursor("a", CAL, "token-2")
    assert ledger.get_cursor("a", CAL) == "token-2"
    assert ledger.get_cursor("a", MAIL) == "uidvalidity=7"
    assert ledger.get_cursor("b", CAL) is None


def test_nul_characters_from_broken_input_do_not_break_storage(ledger: Ledger) -> None:
    m = meeting("bad\x00uid", T0, title="ti\x00tle")
    ledger.apply_changes("a", CAL, CalendarChanges(upserts=[m]))
    assert everything(ledger) == [m]
    ledger.mark_processed("a", m)
    assert ledger.is_processed("a", m)
    ledger.apply_changes("a", CAL, CalendarChanges(removed=[OccurrenceRef("bad\x00uid")]))
    assert everything(ledger) == []


def test_utc_is_what_comes_back(ledger: Ledger) -> None:
    m = meeting("u", datetime(2025, 3, 10, 10, tzinfo=ZoneInfo("America/New_York")))
    ledger.apply_changes("a", CAL, CalendarChanges(upserts=[m]))
    (back,) = everything(ledger)
    assert back.start.tzinfo is UTC and back.start == m.start

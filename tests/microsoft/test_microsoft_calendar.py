"""The calendar source: calendarView delta, resync, series, attendees; free/busy."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from followup.model import CUType, Interval, OccurrenceRef, PartStat, Role
from followup.protocols import Account

from .conftest import MsWorld

T0 = datetime(2025, 3, 10, 14, 0, tzinfo=UTC)
WINDOW = Interval(T0 - timedelta(days=3), T0 + timedelta(days=14))


def delta_requests(ms: MsWorld) -> int:
    return sum(1 for _, path in ms.graph.log if path.endswith("/calendarView/delta"))


def test_full_sync_follows_next_links_and_keeps_the_delta_link(
    ms: MsWorld, account: Account
) -> None:
    for i in range(5):
        ms.graph.add_event(f"Meeting {i}", T0 + timedelta(hours=i), uid=f"m{i}@x")
    ms.graph.add_event("Far away", T0 + timedelta(days=40), uid="far@x")
    changes = account.sources[0].changes(None, WINDOW)
    assert changes.full
    assert sorted(m.uid for m in changes.upserts) == [f"m{i}@x" for i in range(5)]
    assert delta_requests(ms) == 3  # pages of 2: the fake's page size
    cursor = json.loads(changes.cursor or "")
    assert "$deltatoken=" in cursor["link"]
    # Nothing changed: one request, nothing reported.
    again = account.sources[0].changes(changes.cursor, WINDOW)
    assert (again.full, again.upserts, again.removed) == (False, [], [])
    assert delta_requests(ms) == 4


def test_changes_and_removals_come_from_the_delta(ms: MsWorld, account: Account) -> None:
    keep = ms.graph.add_event("Keep", T0, uid="keep@x")
    gone = ms.graph.add_event("Gone", T0 + timedelta(hours=2), uid="gone@x")
    source = account.sources[0]
    first = source.changes(None, WINDOW)
    ms.graph.update_event(keep, subject="Keep, renamed")
    ms.graph.delete_event(gone)
    later = source.changes(first.cursor, WINDOW)
    assert [m.title for m in later.upserts] == ["Keep, renamed"]
    assert later.removed == [OccurrenceRef("gone@x", None)]


def test_expired_delta_token_resyncs_in_full_without_duplicates(
    ms: MsWorld, account: Account
) -> None:
    for mode in ("410", "syncStateNotFound"):
        source = account.sources[0]
        ms.graph.add_event(f"Meeting {mode}", T0, uid=f"{mode}@x")
        first = source.changes(None, WINDOW)
        ms.graph.expire_delta_tokens(mode)
        again = source.changes(first.cursor, WINDOW)
        assert again.full
        uids = [m.uid for m in again.upserts]
        assert len(uids) == len(set(uids))
        assert f"{mode}@x" in uids
        assert json.loads(again.cursor or "")["link"] != json.loads(first.cursor or "")["link"]


def test_a_moved_window_starts_a_new_delta(ms: MsWorld, account: Account) -> None:
    source = account.sources[0]
    first = source.changes(None, WINDOW)
    later_window = Interval(WINDOW.start + timedelta(days=2), WINDOW.end + timedelta(days=2))
    assert source.changes(first.cursor, later_window).full
    same_day = Interval(WINDOW.start + timedelta(hours=5), WINDOW.end + timedelta(hours=5))
    assert not source.changes(first.cursor, same_day).full


def test_series_occurrences_carry_the_series_uid_and_their_original_start(
    ms: MsWorld, account: Account
) -> None:
    starts = [T0 + timedelta(days=7 * i) for i in range(2)]
    _, occurrences = ms.graph.add_series("weekly@x", "Weekly sync", starts)
    source = account.sources[0]
    first = source.changes(None, WINDOW)
    assert sorted((m.uid, m.recurrence_id, m.series_start) for m in first.upserts) == [
        ("weekly@x", s, T0) for s in starts]
    # The second occurrence is moved by an hour: an exception with its original start.
    ms.graph.update_event(occurrences[1], type="exception",
                          start={"dateTime": (starts[1] + timedelta(hours=1))
                                 .strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"})
    later = source.changes(first.cursor, WINDOW)
    [moved] = later.upserts
    assert (moved.uid, moved.occurrence, moved.start) == (
        "weekly@x", starts[1], starts[1] + timedelta(hours=1))
    assert later.removed == []
    ms.graph.delete_event(occurrences[0])
    last = source.changes(later.cursor, WINDOW)
    assert last.removed == [OccurrenceRef("weekly@x", starts[0])]


def test_attendees_are_mapped(ms: MsWorld, account: Account) -> None:
    ms.graph.add_event(
        "Pilot", T0, uid="pilot@x", organizer=("jane@acme.example", "Jane Doe"),
        attendees=[("jane@acme.example", "Jane Doe", "required", "organizer"),
                   ("bob@globex.example", "Bob Roe", "optional", "declined"),
                   ("room-7@contoso.example", "Room 7", "resource", "accepted"),
                   ("me@contoso.example", "Me", "required", "none")],
        responseStatus={"response": "tentativelyAccepted"},
        onlineMeeting={"joinUrl": "https://teams.example/join/1"},
    )
    [m] = account.sources[0].changes(None, WINDOW).upserts
    by = {a.email: a for a in m.attendees}
    assert by["jane@acme.example"].is_organizer
    assert by["bob@globex.example"].role is Role.OPTIONAL
    assert by["bob@globex.example"].partstat is PartStat.DECLINED
    assert by["room-7@contoso.example"].cutype is CUType.RESOURCE
    assert by["me@contoso.example"].is_self
    assert by["me@contoso.example"].partstat is PartStat.TENTATIVE  # the user's own answer
    assert m.organizer is not None and m.organizer.email == "jane@acme.example"
    assert not m.organizer.is_self
    assert m.conference_url == "https://teams.example/join/1"


def test_busy_from_get_schedule(ms: MsWorld, account: Account) -> None:
    ms.graph.add_event("Busy", T0, uid="b@x")
    ms.graph.add_event("Free", T0 + timedelta(hours=2), uid="f@x", show_as="free")
    busy = account.availability.busy(Interval(T0, T0 + timedelta(hours=4)))
    assert busy == [Interval(T0, T0 + timedelta(hours=1))]
    assert ms.graph.routes["getSchedule"] == 1 and ms.graph.routes["calendarView"] == 0


def test_personal_accounts_compute_busy_from_calendar_view(
    ms: MsWorld, account: Account
) -> None:
    ms.graph.personal = True  # getSchedule answers 500 for personal accounts
    ms.graph.add_event("Busy", T0, uid="b@x")
    ms.graph.add_event("Declined", T0 + timedelta(hours=2), uid="d@x",
                       organizer=("x@y.example", None), responseStatus={"response": "declined"})
    window = Interval(T0, T0 + timedelta(hours=4))
    assert account.availability.busy(window) == [Interval(T0, T0 + timedelta(hours=1))]
    assert account.availability.busy(window) == [Interval(T0, T0 + timedelta(hours=1))]
    assert ms.graph.routes["getSchedule"] == 1  # not asked again once known to fail
    assert ms.graph.routes["calendarView"] == 2


def test_our_own_follow_up_blocks_are_not_read_back_as_meetings(
    ms: MsWorld, account: Account
) -> None:
    ms.graph.add_event("Pilot", T0, uid="pilot@x")
    ms.graph.add_event("Send follow-up to Jane Doe", T0 + timedelta(hours=3),
                       transactionId="followup-0123456789abcdefghijklmnopqrstuv")
    assert [m.uid for m in account.sources[0].changes(None, WINDOW).upserts] == ["pilot@x"]

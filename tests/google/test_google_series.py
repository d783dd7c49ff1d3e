"""Recurring meetings from Google: only a series' first occurrence, or someone who joins it
later, counts as meeting someone new (PLAYBOOK §5). The series' first start comes from its
master, read once per series."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from fake_google import FakeGoogle, rfc3339
from google_cycles import ME, T0, Cycles
from google_env import T0 as MONDAY_AFTERNOON

from followup.engine.cycle import CycleReport
from followup.errors import TransientError
from followup.model import SERIES_START_UNKNOWN, Interval
from followup.protocols import Account

WEEK = timedelta(weeks=1)
PAT = "pat@partner.example"
NEWBIE = "newbie@startup.example"
AFTER = timedelta(hours=2)  # a cycle two hours after an occurrence's start
WINDOW = Interval(MONDAY_AFTERNOON - timedelta(days=3), MONDAY_AFTERNOON + timedelta(days=14))


def attendees(*emails: str) -> list[dict[str, Any]]:
    return [{"email": ME, "self": True, "organizer": True, "responseStatus": "accepted"}] + [
        {"email": e, "displayName": e.split("@")[0].title(), "responseStatus": "accepted"}
        for e in emails]


def weekly(fake: FakeGoogle, first: datetime, count: int, *emails: str,
           title: str = "Weekly sync") -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return fake.add_series("primary", {"summary": title, "attendees": attendees(*emails)},
                           [first + k * WEEK for k in range(count)])


def contact_emails(fake: FakeGoogle) -> list[str]:
    return sorted(e["value"] for p in fake.people.values() for e in p["emailAddresses"])


def draft_recipients(fake: FakeGoogle) -> list[str]:
    return sorted(str(fake.messages[mid]["parsed"]["To"]).split("<")[-1].rstrip(">")
                  for mid in fake.drafts.values())


def notes_of(fake: FakeGoogle, email: str) -> list[str]:
    return [line for p in fake.people.values()
            if any(a["value"] == email for a in p["emailAddresses"])
            for bio in p.get("biographies", []) for line in bio["value"].splitlines() if line]


def skip_codes(report: CycleReport, email: str) -> list[str]:
    return [s.code for _, s in report.skips if s.email == email]


def test_a_series_running_before_the_first_sync_brings_nobody_new(cycles: Cycles) -> None:
    fake = cycles.fake
    weekly(fake, T0 - 5 * WEEK, 12, PAT)  # a 1:1 that started five weeks ago
    first = cycles.run(T0 + AFTER)
    assert skip_codes(first, PAT) == ["recurring_seen"]
    assert not first.intents
    for week in (1, 2, 3):  # later occurrences, across full syncs as the window moves
        report = cycles.run(T0 + week * WEEK + AFTER)
        assert skip_codes(report, PAT) == ["recurring_known"]
        assert not report.intents
    assert contact_emails(fake) == []
    assert draft_recipients(fake) == []
    assert notes_of(fake, PAT) == []  # no "Met again" either


def test_a_series_that_starts_in_the_window_makes_its_people_new_once(cycles: Cycles) -> None:
    fake = cycles.fake
    weekly(fake, T0, 6, PAT)  # the first occurrence is today
    cycles.until_settled(T0 + AFTER)
    assert contact_emails(fake) == [PAT]
    assert draft_recipients(fake) == [PAT]
    [note] = notes_of(fake, PAT)
    assert note.startswith("Met at")
    second = cycles.run(T0 + WEEK + AFTER)
    assert skip_codes(second, PAT) == ["recurring_known"]
    cycles.until_settled(T0 + 2 * WEEK + AFTER)
    assert contact_emails(fake) == [PAT]
    assert draft_recipients(fake) == [PAT]
    assert notes_of(fake, PAT) == [note]  # no "Met again" at the later occurrences


def test_someone_added_to_one_later_occurrence_is_new_there(cycles: Cycles) -> None:
    fake = cycles.fake
    _, instances = weekly(fake, T0 - 5 * WEEK, 12, PAT)
    cycles.run(T0 + AFTER)
    # The organizer invites a newcomer to next week's meeting only: an exception instance.
    next_week = instances[6]
    assert next_week["originalStartTime"]["dateTime"] == rfc3339(T0 + WEEK)
    fake.change_event("primary", next_week["id"], attendees=attendees(PAT, NEWBIE))
    report = cycles.run(T0 + WEEK + AFTER)
    assert skip_codes(report, PAT) == ["recurring_known"]
    assert skip_codes(report, NEWBIE) == []
    cycles.until_settled(T0 + WEEK + AFTER)
    assert contact_emails(fake) == [NEWBIE]
    assert draft_recipients(fake) == [NEWBIE]
    cycles.until_settled(T0 + 2 * WEEK + AFTER)  # back to the usual attendees
    assert contact_emails(fake) == [NEWBIE]
    assert len(notes_of(fake, NEWBIE)) == 1


def test_each_series_master_is_read_once_across_cycles(cycles: Cycles) -> None:
    fake = cycles.fake
    old, _ = weekly(fake, T0 - 5 * WEEK, 12, PAT, title="Old 1:1")
    new, _ = weekly(fake, T0 + timedelta(hours=3), 8, NEWBIE, title="New project")
    cycles.run(T0 + AFTER)
    assert fake.event_gets == {old["id"]: 1, new["id"]: 1}
    idle, _ = cycles.requests(T0 + AFTER + timedelta(minutes=5))
    assert idle == 2  # as docs/google.md says: events.list + Gmail getProfile
    now = T0 + AFTER
    for _ in range(3 * 14):  # three weeks of cycles: incremental and (weekly) full syncs
        now += timedelta(hours=12)
        cycles.run(now)
    assert fake.counts()["calendar.events.list"] >= 3 * 14
    assert fake.event_gets[old["id"]] == 1
    assert fake.event_gets[new["id"]] == 1
    idle_later, _ = cycles.requests(now + timedelta(minutes=5))
    assert idle_later == 2
    # A series seen for the first time costs exactly one request more than a single meeting.
    third, _ = weekly(fake, now + timedelta(hours=1), 4, "sam@other.example", title="Third")
    before = fake.counts()
    cycles.run(now + timedelta(minutes=10))
    spent = fake.counts() - before
    assert spent["calendar.events.list"] == 1
    assert spent["calendar.events.get"] == 1
    assert fake.event_gets[third["id"]] == 1


def test_the_master_gives_the_series_start(fake: FakeGoogle, account: Account) -> None:
    master, _ = weekly(fake, T0 - 5 * WEEK, 12, PAT)
    changes = account.sources[0].changes(None, WINDOW)
    meetings = sorted(changes.upserts, key=lambda m: m.start)
    # The window and the week past it that a full sync reads.
    assert [m.occurrence for m in meetings] == [T0 + k * WEEK for k in range(4)]
    assert {m.series_start for m in meetings} == {T0 - 5 * WEEK}
    assert {m.uid for m in meetings} == {master["iCalUID"]}
    assert fake.event_gets == {master["id"]: 1}


def test_an_unreadable_master_never_makes_a_series_new(fake: FakeGoogle,
                                                      account: Account) -> None:
    master, instances = weekly(fake, T0, 6, PAT)
    with fake.lock:  # only this instance is shared with the user: no master to read
        del fake.events[fake.user][master["id"]]
    source = account.sources[0]
    first = source.changes(None, WINDOW)
    assert {m.series_start for m in first.upserts} == {SERIES_START_UNKNOWN}
    assert all(m.is_recurring and m.occurrence != m.series_start for m in first.upserts)
    # Remembered: a change to an instance does not ask again.
    fake.change_event("primary", instances[1]["id"], summary="Weekly sync (moved room)")
    later = source.changes(first.cursor, WINDOW)
    assert [m.series_start for m in later.upserts] == [SERIES_START_UNKNOWN]
    assert fake.event_gets == {master["id"]: 1}


def test_a_master_that_cannot_be_read_for_now_fails_the_sync(fake: FakeGoogle,
                                                            account: Account) -> None:
    weekly(fake, T0, 3, PAT)
    fake.fail_next("calendar.events.get", 503, times=6)  # every attempt (max_attempts=6)
    source = account.sources[0]
    with pytest.raises(TransientError):
        source.changes(None, WINDOW)  # no cursor comes back: the next cycle tries again
    again = source.changes(None, WINDOW)
    assert {m.series_start for m in again.upserts} == {T0}
    assert any(m.occurrence == m.series_start for m in again.upserts)


def test_a_cursor_from_before_series_starts_still_loads(fake: FakeGoogle,
                                                       account: Account) -> None:
    source = account.sources[0]
    first = source.changes(None, WINDOW)
    assert first.cursor is not None
    old = json.loads(first.cursor)
    old.pop("series")
    old["v"] = 1
    master, _ = weekly(fake, T0 - 5 * WEEK, 12, PAT)
    later = source.changes(json.dumps(old), WINDOW)
    assert not later.full  # the old cursor was used, not thrown away
    assert {m.series_start for m in later.upserts} == {T0 - 5 * WEEK}
    assert later.cursor is not None
    assert json.loads(later.cursor)["series"] == {master["id"]: (T0 - 5 * WEEK).isoformat()}

"""Calendar: incremental sync with its real rules, event mapping, blocks, the follow-up calendar."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fake_google import FakeGoogle, rfc3339
from google_env import T0, account_config, connect

from followup import keys
from followup.config import Config, GoogleAccount
from followup.model import (
    BlockPayload,
    CUType,
    Interval,
    MeetingStatus,
    PartStat,
    Role,
    WriteOutcome,
)
from followup.protocols import Account
from followup.providers.google import open_google_account

WINDOW = Interval(T0 - timedelta(days=3), T0 + timedelta(days=14))


def event(summary: str, start_hours: float, **extra: Any) -> dict[str, Any]:
    start = T0 + timedelta(hours=start_hours)
    return {"summary": summary, "start": {"dateTime": rfc3339(start)},
            "end": {"dateTime": rfc3339(start + timedelta(hours=1))}, **extra}


def block(hours: float = 20) -> BlockPayload:
    start = T0 + timedelta(hours=hours)
    return BlockPayload("Send follow-up to Jane Doe, Acme", "Draft in Gmail", start,
                        start + timedelta(minutes=15))


def test_attendees_are_mapped_with_their_roles_and_answers(fake: FakeGoogle,
                                                          account: Account) -> None:
    fake.add_event("primary", event("Roadmap", -3, attendeesOmitted=True, attendees=[
        {"email": "me@example.com", "self": True, "responseStatus": "declined"},
        {"email": "Boss@Acme.com", "displayName": "The Boss", "organizer": True,
         "responseStatus": "accepted"},
        {"email": "jane@acme.com", "optional": True, "responseStatus": "tentative"},
        {"email": "room-1@resource.calendar.google.com", "resource": True,
         "responseStatus": "accepted"},
    ], organizer={"email": "boss@acme.com", "displayName": "The Boss"},
        hangoutLink="https://meet.google.com/abc-defg-hij"))
    [m] = account.sources[0].changes(None, WINDOW).upserts
    me, boss, jane, room = m.attendees
    assert me.is_self and me.partstat is PartStat.DECLINED
    assert boss.email == "boss@acme.com" and boss.is_organizer and boss.name == "The Boss"
    assert m.organizer == boss
    assert jane.role is Role.OPTIONAL and jane.partstat is PartStat.TENTATIVE
    assert room.cutype is CUType.RESOURCE
    assert m.attendees_omitted
    assert m.conference_url == "https://meet.google.com/abc-defg-hij"
    assert m.source == "calendar:google/primary"


def test_instances_all_day_and_non_meetings(fake: FakeGoogle, account: Account) -> None:
    fake.add_event("primary", event("Weekly", 24, iCalUID="weekly@acme.com",
                                    recurringEventId="master1",
                                    originalStartTime={"dateTime": rfc3339(T0 + timedelta(
                                        hours=24))}))
    fake.add_event("primary", {"summary": "Offsite", "start": {"date": "2025-03-12"},
                               "end": {"date": "2025-03-13"}})
    fake.add_event("primary", event("Out of office", 30, eventType="outOfOffice"))
    fake.add_event("primary", event("Focus", 32, eventType="focusTime"))
    by_title = {m.title: m for m in account.sources[0].changes(None, WINDOW).upserts}
    assert set(by_title) == {"Weekly", "Offsite"}
    assert by_title["Weekly"].is_recurring
    assert by_title["Weekly"].recurrence_id == T0 + timedelta(hours=24)
    assert by_title["Offsite"].all_day


def test_empty_pages_with_a_token_are_followed_to_the_end(fake: FakeGoogle,
                                                          account: Account) -> None:
    for i in range(300):  # more than one page of 250
        fake.add_event("primary", event(f"m{i}", i % 48))
    fake.empty_pages = 3
    changes = account.sources[0].changes(None, WINDOW)
    assert len(changes.upserts) == 300
    # 3 empty pages, then two pages of events: nothing is taken for the end too early.
    assert fake.counts()["calendar.events.list"] == 5


def test_incremental_sync_sends_only_the_token_and_reports_changes(
        fake: FakeGoogle, account: Account) -> None:
    a = fake.add_event("primary", event("A", 1))
    source = account.sources[0]
    first = source.changes(None, WINDOW)
    fake.change_event("primary", a["id"], summary="A moved", sequence=1)
    fake.add_event("primary", event("B", 2))
    b_far = fake.add_event("primary", event("Far future", 24 * 90))
    fake.reset_log()
    later = source.changes(first.cursor, WINDOW)
    # The fake answers 400 to timeMin/timeMax/etc. with a syncToken: none were sent.
    assert [s for _, s in fake.log] == [200]
    assert not later.full
    assert sorted(m.title for m in later.upserts) == ["A moved", "B"]  # far future filtered
    assert b_far["id"] not in [m.uid for m in later.upserts]


def test_cancelled_events_are_reported_removed(fake: FakeGoogle, account: Account) -> None:
    single = fake.add_event("primary", event("Single", 1, iCalUID="single@x"))
    inst = fake.add_event("primary", event("Weekly", 5, iCalUID="weekly@x",
                                           recurringEventId="m",
                                           originalStartTime={"dateTime": rfc3339(
                                               T0 + timedelta(hours=5))}))
    source = account.sources[0]
    first = source.changes(None, WINDOW)
    fake.cancel_event("primary", single["id"])
    fake.cancel_event("primary", inst["id"])
    later = source.changes(first.cursor, WINDOW)
    assert later.upserts == []
    refs = {(r.uid, r.occurrence) for r in later.removed}
    assert refs == {("single@x", None), ("weekly@x", T0 + timedelta(hours=5))}


def test_410_means_a_full_resync_reported_as_full(fake: FakeGoogle, account: Account) -> None:
    fake.add_event("primary", event("A", 1))
    source = account.sources[0]
    first = source.changes(None, WINDOW)
    fake.invalidate_sync_tokens("primary")
    fake.add_event("primary", event("B", 2))
    again = source.changes(first.cursor, WINDOW)
    assert again.full  # the ledger replaces this source's meetings: nothing doubles
    assert sorted(m.title for m in again.upserts) == ["A", "B"]
    assert (410 in [s for m, s in fake.log if m == "calendar.events.list"])
    assert not source.changes(again.cursor, WINDOW).full


def test_a_window_past_the_synced_horizon_triggers_a_full_sync(fake: FakeGoogle,
                                                               account: Account) -> None:
    source = account.sources[0]
    first = source.changes(None, WINDOW)
    late = fake.add_event("primary", event("Three weeks out", 24 * 24))
    week_later = Interval(WINDOW.start + timedelta(days=8), WINDOW.end + timedelta(days=8))
    changes = source.changes(first.cursor, week_later)
    assert changes.full
    assert late["iCalUID"] in [m.uid for m in changes.upserts]


def test_our_own_blocks_are_not_meetings(fake: FakeGoogle, account: Account) -> None:
    key = keys.touch_key("work", "m@x", T0, "jane@acme.com", 0, "block")
    account.blocks.ensure(key, block(2), recovering=False)
    assert account.sources[0].changes(None, WINDOW).upserts == []


def test_block_insert_uses_the_key_as_id_and_finds_a_deleted_one_dismissed(
        fake: FakeGoogle, account: Account) -> None:
    key = keys.touch_key("work", "m@x", T0, "jane@acme.com", 0, "block")
    first = account.blocks.ensure(key, block(), recovering=False)
    assert first.outcome is WriteOutcome.CREATED and first.remote_id == key
    stored = fake.events[fake.user][key]
    assert stored["extendedProperties"]["private"] == {"followupKey": key}
    fake.cancel_event("primary", key)  # the user deleted it: Google keeps it, cancelled
    again = account.blocks.ensure(key, block(), recovering=False)
    assert again.outcome is WriteOutcome.DISMISSED
    assert [s for m, s in fake.log if m == "calendar.events.insert"] == [200, 409]
    assert fake.live_events("primary") == []


def test_free_busy_skips_declined_transparent_and_cancelled(fake: FakeGoogle,
                                                           account: Account) -> None:
    fake.add_event("primary", event("Busy", 1))
    fake.add_event("primary", event("Free", 3, transparency="transparent"))
    fake.add_event("primary", event("Declined", 5, attendees=[
        {"email": "me@example.com", "self": True, "responseStatus": "declined"}]))
    gone = fake.add_event("primary", event("Gone", 7))
    fake.cancel_event("primary", gone["id"])
    busy = account.availability.busy(Interval(T0, T0 + timedelta(hours=10)))
    assert busy == [Interval(T0 + timedelta(hours=1), T0 + timedelta(hours=2))]


def own_calendar_account(fake: FakeGoogle, config: Config) -> tuple[GoogleAccount, Account]:
    cfg = account_config(fake, followup_calendar="Follow-ups")
    connect(fake, cfg, config)
    return cfg, open_google_account(cfg, config, clock=lambda: T0, sleep=lambda s: None)


def test_a_calendar_of_our_own_is_made_once_and_found_again(fake: FakeGoogle,
                                                             config: Config) -> None:
    fake.add_event("primary", event("Busy", 21))
    _, account = own_calendar_account(fake, config)
    k1 = keys.touch_key("work", "m@x", T0, "a@x.org", 0, "block")
    account.blocks.ensure(k1, block(), recovering=False)
    # A restarted daemon (a new Account) finds the calendar by name and marker.
    _, restarted = own_calendar_account(fake, config)
    k2 = keys.touch_key("work", "m@x", T0, "b@x.org", 0, "block")
    restarted.blocks.ensure(k2, block(22), recovering=False)
    ours = [c for c in fake.calendars.values() if c["summary"] == "Follow-ups"]
    assert len(ours) == 1
    assert set(fake.events[ours[0]["id"]]) == {k1, k2}
    assert fake.live_events("primary")[0]["summary"] == "Busy"  # primary untouched
    busy = restarted.availability.busy(Interval(T0, T0 + timedelta(days=1)))
    assert Interval(T0 + timedelta(hours=20), T0 + timedelta(hours=20, minutes=15)) in busy


def test_a_calendar_creation_whose_answer_was_lost_is_not_repeated(fake: FakeGoogle,
                                                                   config: Config) -> None:
    fake.drop_next("calendar.calendars.insert", after_apply=True)
    _, account = own_calendar_account(fake, config)
    account.blocks.ensure(keys.touch_key("w", "m", T0, "a@x.org", 0, "block"), block(),
                          recovering=False)
    assert [c["summary"] for c in fake.calendars.values()].count("Follow-ups") == 1


def test_the_primary_calendar_never_needs_calendar_list_scope(fake: FakeGoogle,
                                                              account: Account) -> None:
    key = keys.touch_key("work", "m@x", T0, "jane@acme.com", 0, "block")
    account.blocks.ensure(key, block(), recovering=False)
    account.availability.busy(WINDOW)
    assert fake.count("calendar.calendarList") == 0
    assert fake.count("calendar.calendars") == 0


def test_cancelled_meeting_status_and_tentative(fake: FakeGoogle, account: Account) -> None:
    fake.add_event("primary", event("Maybe", 1, status="tentative"))
    [m] = account.sources[0].changes(None, WINDOW).upserts
    assert m.status is MeetingStatus.TENTATIVE


def test_reading_busy_time_never_creates_our_calendar(fake: FakeGoogle, config: Config) -> None:
    _, account = own_calendar_account(fake, config)
    account.availability.busy(WINDOW)
    assert [c["summary"] for c in fake.calendars.values()] == ["Primary"]


def test_base_urls_combine_with_each_apis_path(fake: FakeGoogle, account: Account) -> None:
    """api_endpoint replaces rootUrl + servicePath: Calendar's URL carries "calendar/v3/",
    Gmail's and People's paths start at the root."""
    api = account.blocks._c.api  # type: ignore[attr-defined]
    base = fake.base
    assert api.calendar.events().list(calendarId="primary").uri.startswith(
        f"{base}/calendar/v3/calendars/primary/events?")
    assert api.gmail.users().drafts().list(userId="me").uri.startswith(
        f"{base}/gmail/v1/users/me/drafts?")
    assert api.people.people().searchContacts(query="x", readMask="names").uri.startswith(
        f"{base}/v1/people:searchContacts?")

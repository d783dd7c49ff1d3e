"""Calendar sources: vdir folders, single files and URLs; cursors that keep idle passes cheap."""

from __future__ import annotations

import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
import structlog

import followup.providers.local.calendars as calendars_module
from followup.errors import InputError
from followup.model import Interval, Meeting, OccurrenceRef

from .conftest import DATA, Home

T0 = datetime(2019, 3, 1, tzinfo=UTC)
WINDOW = Interval(T0 - timedelta(days=3), T0 + timedelta(days=14))


def later(days: int) -> Interval:
    return Interval(WINDOW.start + timedelta(days=days), WINDOW.end + timedelta(days=days))


def test_vdir_of_real_files_with_a_broken_one(home: Home) -> None:
    shutil.copy(DATA / "recurring-ical-events" / "machbar_16_feb_2019.ics", home.calendar)
    (home.calendar / "sub").mkdir()  # a sub-calendar, khal style
    shutil.copy(DATA / "recurring-ical-events" / "discourse_no_dtend.ics", home.calendar / "sub")
    (home.calendar / "broken.ics").write_text("\nthis is not right\nBEGIN:VCALENDAR\n")
    (home.calendar / ".hidden.ics").write_text("ignored")
    source = home.account().sources[0]
    assert source.name.startswith("calendar:")
    with structlog.testing.capture_logs() as logs:
        changes = source.changes(None, WINDOW)
    assert changes.full
    titles = {m.title for m in changes.upserts}
    assert "Montessori Schulklasse" in titles  # from the Google export
    assert "Einmietung HACKademy - erste drei Märzwochenenden" in titles  # from sub/
    [error] = [e for e in changes.errors if "broken.ics" in e]
    assert "line 2 is not iCalendar" in error and "not right" not in error  # never quoted
    assert any("broken.ics" in str(e.get("source", "")) + str(e.get("file", ""))
               for e in logs if e["log_level"] == "warning")


def test_changed_and_deleted_files(home: Home) -> None:
    a = home.write_meeting(Meeting(uid="a@x", start=T0, end=T0 + timedelta(hours=1), title="A"))
    home.write_meeting(Meeting(uid="b@x", start=T0, end=T0 + timedelta(hours=1), title="B"))
    source = home.account().sources[0]
    first = source.changes(None, WINDOW)
    assert sorted(m.uid for m in first.upserts) == ["a@x", "b@x"]

    a.write_text(a.read_text().replace("SUMMARY:A", "SUMMARY:A, moved").replace(
        "DTSTART;TZID=UTC:20190301T000000Z", "DTSTART;TZID=UTC:20190301T010000Z"))
    os.utime(a, ns=(1, 10**18))  # a different mtime, as an editor would leave
    (home.calendar / "b@x.ics").unlink()
    second = source.changes(first.cursor, WINDOW)
    assert sorted(second.removed, key=lambda r: r.uid) == [OccurrenceRef("a@x"),
                                                           OccurrenceRef("b@x")]
    assert [m.title for m in second.upserts] == ["A, moved"]
    assert not second.full

    third = source.changes(second.cursor, WINDOW)
    assert (third.upserts, third.removed) == ([], [])


def test_idle_pass_over_many_files_only_stats(home: Home, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    for i in range(300):
        home.write_meeting(Meeting(uid=f"m{i}@x", start=T0 + timedelta(hours=i),
                                   end=T0 + timedelta(hours=i, minutes=30)))
    source = home.account().sources[0]
    first = source.changes(None, WINDOW)
    assert len(first.upserts) == 300
    calls: list[str] = []
    real = calendars_module.parse_calendar

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs["source"])
        return real(*args, **kwargs)

    monkeypatch.setattr(calendars_module, "parse_calendar", counting)
    again = source.changes(first.cursor, WINDOW)
    assert (again.upserts, again.removed, calls) == ([], [], [])
    assert first.cursor is not None and len(first.cursor) < 300 * 120


def test_occurrences_entering_a_later_window_are_reported(home: Home) -> None:
    (home.calendar / "weekly.ics").write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:weekly@x\r\n"
        "DTSTAMP:20190101T000000Z\r\nDTSTART:20190304T100000Z\r\nDTEND:20190304T110000Z\r\n"
        "RRULE:FREQ=WEEKLY\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:far@x\r\n"
        "DTSTAMP:20190101T000000Z\r\nDTSTART:20190501T100000Z\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n")
    source = home.account().sources[0]
    first = source.changes(None, WINDOW)
    assert len(first.upserts) == 2  # 4 and 11 March
    same = source.changes(first.cursor, WINDOW)
    assert same.upserts == []
    moved_on = source.changes(same.cursor, later(4))  # 18 March enters the window
    assert datetime(2019, 3, 18, 10, tzinfo=UTC) in {m.start for m in moved_on.upserts}
    assert moved_on.removed == []
    far = source.changes(moved_on.cursor, later(60))
    assert "far@x" in {m.uid for m in far.upserts}


def test_single_ics_file(home: Home) -> None:
    path = DATA / "recurring-ical-events" / "machbar_16_feb_2019.ics"
    source = home.account(calendars=[str(path)]).sources[0]
    changes = source.changes(None, WINDOW)
    assert changes.upserts and not changes.errors


class _Calendar(http.server.BaseHTTPRequestHandler):
    body = b""
    etag = '"v1"'
    hits: ClassVar[list[str | None]] = []
    fail = False

    def do_GET(self) -> None:
        cls = type(self)
        cls.hits.append(self.headers.get("If-None-Match"))
        if cls.fail:
            self.send_response(503)
            self.end_headers()
            return
        if self.headers.get("If-None-Match") == cls.etag:
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar")
        self.send_header("ETag", cls.etag)
        self.send_header("Content-Length", str(len(cls.body)))
        self.end_headers()
        self.wfile.write(cls.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Calendar]]]:
    handler = type("Handler", (_Calendar,), {"hits": [], "fail": False})
    handler.body = (DATA / "recurring-ical-events" / "machbar_16_feb_2019.ics").read_bytes()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/private-token/basic.ics", handler
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_url_calendar_with_etag_and_outage(home: Home, server) -> None:  # type: ignore[no-untyped-def]
    url, handler = server
    account = home.account(calendars=[url])
    source = account.sources[0]
    assert "private-token" not in source.name  # a secret in the URL is never a name
    first = source.changes(None, WINDOW)
    assert first.upserts and not first.errors
    again = source.changes(first.cursor, WINDOW)
    assert again.upserts == [] and handler.hits == [None, '"v1"']
    handler.fail = True
    with pytest.raises(InputError, match="HTTP 503"):  # the cycle keeps what it knew
        source.changes(again.cursor, WINDOW)
    account.availability.busy(WINDOW)  # a calendar that is down is skipped, not raised
    handler.fail = False
    handler.etag = '"v2"'
    handler.body = handler.body.replace(b"Montessori Schulklasse", b"Montessori class")
    changed = source.changes(again.cursor, WINDOW)
    assert "Montessori class" in {m.title for m in changed.upserts}
    assert {r.uid for r in changed.removed} >= {"7g6502aejkun96i5fenfu6hvc1@google.com"}


def test_busy_time_skips_free_cancelled_and_declined(home: Home) -> None:
    (home.calendar / "mix.ics").write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
        + "".join(
            f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20190101T000000Z\r\n"
            f"DTSTART:201903{day:02d}T100000Z\r\nDTEND:201903{day:02d}T110000Z\r\n{extra}"
            "END:VEVENT\r\n"
            for uid, day, extra in [
                ("busy", 1, ""),
                ("free", 2, "TRANSP:TRANSPARENT\r\n"),
                ("cancelled", 3, "STATUS:CANCELLED\r\n"),
                ("declined", 4, "ATTENDEE;PARTSTAT=DECLINED:mailto:Me@Example.com\r\n"),
                ("others-declined", 5, "ATTENDEE;PARTSTAT=DECLINED:mailto:x@example.org\r\n"),
            ]
        )
        + "END:VCALENDAR\r\n")
    busy = home.account().availability.busy(WINDOW)
    assert [b.start.day for b in busy] == [1, 5]


def test_followup_blocks_count_as_busy(home: Home) -> None:
    from followup.model import BlockPayload

    account = home.account()
    start = datetime(2019, 3, 6, 9, tzinfo=UTC)
    account.blocks.ensure("a" * 32, BlockPayload("s", "d", start, start + timedelta(minutes=15)),
                          recovering=False)
    assert Interval(start, start + timedelta(minutes=15)) in account.availability.busy(WINDOW)
    off = home.account(busy_from_followups=False)
    assert off.availability.busy(WINDOW) == []

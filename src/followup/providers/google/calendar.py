"""Google Calendar: meetings by incremental sync, busy time by freeBusy, follow-up blocks.

Sync (https://developers.google.com/calendar/api/guides/sync): a full `events.list` over the
window with singleEvents=true, following nextPageToken (pages may be empty and still carry
one) to the nextSyncToken on the last page; later calls send only the syncToken (timeMin and
friends are forbidden with it). 410 means the token is dead: start over and say `full=True`,
so the ledger replaces this source's meetings instead of adding duplicates.

Incremental results are not bounded by the window, and the window moves: the full sync reads
a week past the window's end and the cursor remembers that horizon; once the window passes it,
a new full sync runs (about once a week).

Instances of a recurring series get their series' first start from the series' master
(series.py): one events.get per series, remembered in the cursor.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import structlog
from googleapiclient.errors import HttpError

from followup.errors import ProviderError
from followup.model import (
    BlockPayload,
    CalendarChanges,
    Interval,
    Meeting,
    OccurrenceRef,
    RemoteState,
    RemoveOutcome,
    WriteOutcome,
    WriteResult,
)
from followup.providers.google.calls import http_error, status_of
from followup.providers.google.client import GoogleClient
from followup.providers.google.events import (
    MEETING_TYPES,
    EventSkipped,
    occurrence_of,
    parse_when,
    rfc3339,
    to_google_time,
    to_meeting,
)
from followup.providers.google.scopes import uses_own_calendar
from followup.providers.google.series import SeriesStarts

log = structlog.get_logger(__name__)

HORIZON_SLACK = timedelta(days=7)
PAGE_SIZE = 250
KEY_PROPERTY = "followupKey"
CALENDAR_MARKER = "followup:calendar"


@dataclass(frozen=True)
class _Cursor:
    token: str
    start: datetime  # the full sync's timeMin
    until: datetime  # the full sync's timeMax
    # recurringEventId -> the series' first start (ISO), None when its master was unreadable.
    # Added in v2; a v1 cursor loads with an empty map: every series is "unknown yet".
    series: dict[str, str | None] = field(default_factory=dict)

    def dump(self) -> str:
        return json.dumps(
            {"v": 2, "token": self.token, "start": self.start.isoformat(),
             "until": self.until.isoformat(), "series": self.series}
        )

    @classmethod
    def load(cls, text: str | None) -> _Cursor | None:
        if not text:
            return None
        try:
            d = json.loads(text)
            return cls(d["token"], datetime.fromisoformat(d["start"]),
                       datetime.fromisoformat(d["until"]), _series_map(d.get("series")))
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("google.cursor_unreadable", what="calendar")
            return None


def _series_map(value: Any) -> dict[str, str | None]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError("series is not a map")
    return {str(k): v if isinstance(v, str) else None for k, v in value.items()}


class SyncTokenExpired(Exception):
    pass


class CalendarSource:
    """One calendar (an id from `calendars`, e.g. "primary") as a MeetingSource."""

    def __init__(self, client: GoogleClient, calendar_id: str) -> None:
        self._c = client
        self.calendar_id = calendar_id
        self._name = f"calendar:google/{calendar_id}"

    @property
    def name(self) -> str:
        return self._name

    def changes(self, cursor: str | None, window: Interval) -> CalendarChanges:
        state = _Cursor.load(cursor)
        if state is not None and window.end <= state.until:
            try:
                return self._incremental(state, window)
            except SyncTokenExpired:
                log.info("google.sync_token_expired", source=self.name)
        return self._full(window, state.series if state is not None else {})

    def _series(self, known: dict[str, str | None]) -> SeriesStarts:
        return SeriesStarts(self._c, self.calendar_id, self.name, known)

    def _list(self, **params: Any) -> tuple[list[dict[str, Any]], str]:
        """Every page of one listing; returns the items and the nextSyncToken."""
        events = self._c.api.calendar.events()
        items: list[dict[str, Any]] = []
        page_token: str | None = None
        while True:
            request = events.list(calendarId=self.calendar_id, singleEvents=True,
                                  maxResults=PAGE_SIZE, pageToken=page_token, **params)
            try:
                page = self._c.caller.read(request)
            except HttpError as e:
                if status_of(e) == 410:
                    raise SyncTokenExpired from None
                raise http_error(e, f"{self.name}: events.list") from None
            items.extend(page.get("items", []))
            page_token = page.get("nextPageToken")
            if not page_token:  # an empty page with a token is not the end
                token = page.get("nextSyncToken")
                if not token:
                    raise ProviderError(f"{self.name}: listing ended without a sync token")
                return items, token

    def _full(self, window: Interval, known: dict[str, str | None]) -> CalendarChanges:
        until = window.end + HORIZON_SLACK
        try:
            items, token = self._list(timeMin=rfc3339(window.start), timeMax=rfc3339(until))
        except SyncTokenExpired:  # a page token went stale mid-listing: once more
            items, token = self._list(timeMin=rfc3339(window.start), timeMax=rfc3339(until))
        changes = CalendarChanges(full=True)
        series = self._series(known)
        # The full listing holds every series with an instance in the window: the others
        # are forgotten (one request again if they ever come back).
        series.keep_only(str(ev["recurringEventId"]) for ev in items
                         if ev.get("recurringEventId"))
        self._apply(items, changes, Interval(window.start, until), series)
        changes.cursor = _Cursor(token, window.start, until, series.dump()).dump()
        log.info("google.full_sync", source=self.name, events=len(items),
                 meetings=len(changes.upserts))
        return changes

    def _incremental(self, state: _Cursor, window: Interval) -> CalendarChanges:
        items, token = self._list(syncToken=state.token)
        changes = CalendarChanges()
        series = self._series(state.series)
        self._apply(items, changes, Interval(window.start, state.until), series)
        changes.cursor = _Cursor(token, state.start, state.until, series.dump()).dump()
        return changes

    def _apply(self, items: list[dict[str, Any]], out: CalendarChanges, span: Interval,
               series: SeriesStarts) -> None:
        tz = self._c.default_tz
        found: list[tuple[str | None, Meeting]] = []
        for ev in items:
            if ev.get("status") == "cancelled":
                ref = self._removed(ev)
                if ref is not None:
                    out.removed.append(ref)
                continue
            if ev.get("eventType", "default") not in MEETING_TYPES:
                continue
            if KEY_PROPERTY in ((ev.get("extendedProperties") or {}).get("private") or {}):
                continue  # one of our own follow-up blocks, not a meeting
            try:
                meeting = to_meeting(ev, source=self.name, default_tz=tz)
            except EventSkipped as e:
                out.errors.append(f"{self.name}: event skipped: {e}")
                log.warning("google.event_skipped", source=self.name, reason=str(e))
                continue
            if meeting.start < span.end and meeting.end > span.start:
                found.append((ev.get("recurringEventId"), meeting))
        # Only instances inside the window cost a look-up of their series.
        series.learn(str(sid) for sid, m in found if sid and m.recurrence_id is not None)
        for sid, meeting in found:
            if sid and meeting.recurrence_id is not None:
                meeting = replace(meeting, series_start=series.start_of(str(sid)))
            out.upserts.append(meeting)

    def _removed(self, ev: dict[str, Any]) -> OccurrenceRef | None:
        """A deleted event guarantees only its id (an instance: also recurringEventId and
        originalStartTime); without iCalUID we cannot name it, and the ledger keeps it until
        the next full sync."""
        uid = ev.get("iCalUID")
        if not uid:
            log.info("google.deleted_event_without_uid", source=self.name)
            return None
        try:
            occurrence = occurrence_of(ev, self._c.default_tz)
        except EventSkipped:
            occurrence = None
        return OccurrenceRef(str(uid), occurrence)


class FreeBusy:
    """Availability from freeBusy.query over the watched calendars and the follow-up one."""

    def __init__(self, client: GoogleClient, blocks: CalendarBlocks) -> None:
        self._c = client
        self._blocks = blocks

    def busy(self, window: Interval) -> list[Interval]:
        ours = self._blocks.existing_calendar_id()  # reading never creates the calendar
        ids = list(dict.fromkeys([*self._c.cfg.calendars, *([ours] if ours else [])]))
        body = {"timeMin": rfc3339(window.start), "timeMax": rfc3339(window.end),
                "items": [{"id": i} for i in ids]}
        try:
            answer = self._c.caller.read(self._c.api.calendar.freebusy().query(body=body))
        except HttpError as e:
            raise http_error(e, "freeBusy.query") from None
        out: list[Interval] = []
        for cid, cal in (answer.get("calendars") or {}).items():
            if cal.get("errors"):
                log.warning("google.freebusy_calendar_error", calendar=cid,
                            reasons=[x.get("reason") for x in cal["errors"]])
            for span in cal.get("busy", []):
                start, _ = parse_when({"dateTime": span["start"]}, self._c.default_tz)
                end, _ = parse_when({"dateTime": span["end"]}, self._c.default_tz)
                out.append(Interval(start, end))
        return sorted(out, key=lambda i: i.start)


def block_fingerprint(ev: dict[str, Any]) -> str:
    """What the user sees of a block: summary, description, start and end."""
    parts = [ev.get("summary") or "", ev.get("description") or "",
             json.dumps(ev.get("start"), sort_keys=True), json.dumps(ev.get("end"), sort_keys=True)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


class CalendarBlocks:
    """Follow-up blocks: events whose id is the key, in the primary or a calendar of ours."""

    def __init__(self, client: GoogleClient) -> None:
        self._c = client
        self._calendar: str | None = None if uses_own_calendar(client.cfg) else "primary"

    # -- the follow-up calendar -----------------------------------------------------------

    def calendar_id(self) -> str:
        """"primary", or the id of the calendar named `followup_calendar` (made once)."""
        if self._calendar is None:
            self._calendar = self._find_or_create_calendar()
        return self._calendar

    def existing_calendar_id(self) -> str | None:
        """Like calendar_id(), but None instead of creating the calendar."""
        if self._calendar is None:
            self._calendar = self._find_calendar()
        return self._calendar

    def _marker(self) -> str:
        return f"{CALENDAR_MARKER}:{self._c.cfg.name}"

    def _find_calendar(self) -> str | None:
        api = self._c.api.calendar.calendarList()
        request = api.list(maxResults=250)
        while request is not None:
            try:
                page = self._c.caller.read(request)
            except HttpError as e:
                raise http_error(e, "calendarList.list") from None
            for entry in page.get("items", []):
                if entry.get("summary") == self._c.cfg.followup_calendar and self._marker() in (
                    entry.get("description") or ""
                ):
                    return str(entry["id"])
            request = api.list_next(request, page)
        return None

    def _find_or_create_calendar(self) -> str:
        found = self._find_calendar()
        if found is not None:
            return found
        body = {
            "summary": self._c.cfg.followup_calendar,
            "description": f"Follow-up reminders written by followup. [{self._marker()}]",
            "timeZone": self._c.config.user.timezone,
        }
        try:
            made = self._c.caller.create(
                lambda: self._c.api.calendar.calendars().insert(body=body),
                lambda: self._find_calendar(),
            )
        except HttpError as e:
            raise http_error(e, "calendars.insert") from None
        cid = made if isinstance(made, str) else str(made["id"])
        log.info("google.followup_calendar_ready", calendar=self._c.cfg.followup_calendar)
        return cid

    # -- Target ---------------------------------------------------------------------------

    def _get(self, key: str) -> dict[str, Any] | None:
        request = self._c.api.calendar.events().get(calendarId=self.calendar_id(), eventId=key)
        try:
            return dict(self._c.caller.read(request))
        except HttpError as e:
            if status_of(e) in (404, 410):
                return None
            raise http_error(e, "events.get") from None

    def _found(self, ev: dict[str, Any], outcome: WriteOutcome) -> WriteResult:
        if ev.get("status") == "cancelled":
            return WriteResult(WriteOutcome.DISMISSED, str(ev["id"]), block_fingerprint(ev))
        return WriteResult(outcome, str(ev["id"]), block_fingerprint(ev))

    def ensure(self, key: str, payload: BlockPayload, *, recovering: bool) -> WriteResult:
        if recovering:
            found = self._get(key)
            if found is not None:
                return self._found(found, WriteOutcome.EXISTED)
        body = {
            "id": key,
            "summary": payload.summary,
            "description": payload.description,
            "start": to_google_time(payload.start),
            "end": to_google_time(payload.end),
            "transparency": "opaque",
            "status": "tentative" if payload.tentative else "confirmed",
            "extendedProperties": {"private": {KEY_PROPERTY: key}},
        }
        cid = self.calendar_id()
        try:
            made = self._c.caller.create(
                lambda: self._c.api.calendar.events().insert(
                    calendarId=cid, body=body, sendUpdates="none"),
                lambda: self._get(key),
            )
        except HttpError as e:
            if status_of(e) != 409:
                raise http_error(e, "events.insert") from None
            # The id is taken: an earlier attempt wrote it, or the user deleted it (cancelled).
            existing = self._get(key)
            if existing is None:
                raise ProviderError(f"events.insert: id {key} taken but not readable") from None
            return self._found(existing, WriteOutcome.EXISTED)
        return self._found(made, WriteOutcome.CREATED)

    def state(self, key: str, remote_id: str | None, fingerprint: str | None) -> RemoteState:
        ev = self._get(remote_id or key)
        if ev is None or ev.get("status") == "cancelled":
            return RemoteState.MISSING
        return RemoteState.PRESENT if block_fingerprint(ev) == fingerprint else RemoteState.EDITED

    def remove(self, key: str, remote_id: str | None, fingerprint: str | None) -> RemoveOutcome:
        state = self.state(key, remote_id, fingerprint)
        if state is RemoteState.MISSING:
            return RemoveOutcome.GONE
        if state is RemoteState.EDITED:
            return RemoveOutcome.KEPT
        request = self._c.api.calendar.events().delete(
            calendarId=self.calendar_id(), eventId=remote_id or key, sendUpdates="none")
        try:
            self._c.caller.read(request)
        except HttpError as e:
            if status_of(e) == 410:  # a retry after a lost answer finds it deleted already
                return RemoveOutcome.REMOVED
            if status_of(e) == 404:
                return RemoveOutcome.GONE
            raise http_error(e, "events.delete") from None
        return RemoveOutcome.REMOVED


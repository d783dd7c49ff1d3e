"""The Outlook calendar as a MeetingSource: /me/calendarView/delta.

The cursor is JSON holding the whole @odata.deltaLink URL plus what delta does not repeat:
- the window the delta was started for (Graph fixes it at the first call), so that a window
  that has moved past its end starts a fresh full sync (about once a day);
- event id -> (UID, occurrence) of what we reported, because an @removed entry carries only
  the event id;
- series master id -> (series UID, series start): occurrences have their own iCalUId in
  Graph, the series' UID is the master's.
An expired delta token (410 Gone, or syncStateNotFound) starts over with a full sync, reported
as CalendarChanges(full=True) so the ledger replaces rather than duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from followup.model import CalendarChanges, Interval, Meeting, OccurrenceRef
from followup.providers.microsoft.events import graph_time, parse_datetime_tz, to_meeting
from followup.providers.microsoft.graph import BatchRequest, GraphClient, GraphError, dump_json
from followup.providers.microsoft.targets import OUR_TRANSACTIONS

log = structlog.get_logger(__name__)

_DELTA_HEADERS = {
    "Prefer": 'odata.maxpagesize=100, outlook.timezone="UTC", outlook.body-content-type="text"'
}
_RESYNC_CODES = frozenset({"syncStateNotFound", "syncStateInvalid", "resyncRequired"})
# A full sync reads this far past the requested window, so the horizon can advance for a day
# before the delta (whose window is fixed) has to be started again.
WINDOW_SLACK = timedelta(days=1)


@dataclass
class _Cursor:
    link: str
    start: datetime
    end: datetime
    ids: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    series: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    def dump(self) -> str:
        return dump_json({"v": 1, "link": self.link, "start": self.start.isoformat(),
                          "end": self.end.isoformat(), "ids": self.ids,
                          "series": self.series})

    @classmethod
    def load(cls, text: str | None) -> _Cursor | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            return cls(
                link=str(data["link"]),
                start=datetime.fromisoformat(data["start"]),
                end=datetime.fromisoformat(data["end"]),
                ids={k: (v[0], v[1]) for k, v in data.get("ids", {}).items()},
                series={k: (v[0], v[1]) for k, v in data.get("series", {}).items()},
            )
        except (ValueError, KeyError, TypeError, IndexError):
            log.warning("microsoft.calendar.cursor_unreadable")
            return None


class GraphCalendarSource:
    """Meetings of the user's calendars, from calendarView delta."""

    def __init__(self, graph: GraphClient, *, account: str,
                 self_addresses: Collection[str]) -> None:
        self._graph = graph
        self._self = frozenset(a.lower() for a in self_addresses)
        self._source = f"calendar:{account}"

    @property
    def name(self) -> str:
        return "calendar"

    def changes(self, cursor: str | None, window: Interval) -> CalendarChanges:
        state = _Cursor.load(cursor)
        if state is not None and window.end <= state.end:
            try:
                return self._read(state, state.link, full=False)
            except GraphError as e:
                if e.status != 410 and e.code not in _RESYNC_CODES:
                    raise
                log.info("microsoft.calendar.resync", reason=e.code or str(e.status))
        elif state is not None:
            log.info("microsoft.calendar.resync", reason="window moved")
        end = window.end + WINDOW_SLACK
        fresh = _Cursor(link="", start=window.start, end=end,
                        series=state.series if state else {})
        first = (f"/me/calendarView/delta?startDateTime={graph_time(window.start)}Z"
                 f"&endDateTime={graph_time(end)}Z")
        return self._read(fresh, first, full=True)

    def _read(self, state: _Cursor, url: str, *, full: bool) -> CalendarChanges:
        entries: list[dict[str, Any]] = []
        link: str | None = url
        while True:
            assert link is not None
            resp = self._graph.get(link, endpoint="calendarView.delta", headers=_DELTA_HEADERS)
            entries.extend(resp.body.get("value", []))
            link = resp.body.get("@odata.nextLink")
            if not link:
                state.link = str(resp.body.get("@odata.deltaLink") or "")
                break
        if not state.link:
            raise GraphError(502, "noDeltaLink", "delta ended without a deltaLink")
        changes = CalendarChanges(full=full)
        if full:
            state.ids = {}
        self._learn_series(state, entries)
        for entry in entries:
            event_id = str(entry.get("id", ""))
            if "@removed" in entry:
                known = state.ids.pop(event_id, None)
                if known is not None:
                    uid, occurrence = known
                    changes.removed.append(OccurrenceRef(
                        uid, datetime.fromisoformat(occurrence) if occurrence else None))
                continue
            if entry.get("type") == "seriesMaster":
                continue  # its occurrences come as their own entries
            if str(entry.get("transactionId") or "").startswith(OUR_TRANSACTIONS):
                continue  # a follow-up block of ours, not a meeting
            meeting = self._meeting(entry, state, changes)
            if meeting is None:
                continue
            previous = state.ids.get(event_id)
            current = (meeting.uid, meeting.recurrence_id.isoformat()
                       if meeting.recurrence_id else None)
            if previous is not None and previous != current:
                # An exception moved its identity (or a single event became another UID).
                uid, occurrence = previous
                changes.removed.append(OccurrenceRef(
                    uid, datetime.fromisoformat(occurrence) if occurrence else None))
            state.ids[event_id] = current
            changes.upserts.append(meeting)
        changes.cursor = state.dump()
        return changes

    def _meeting(self, entry: dict[str, Any], state: _Cursor,
                 changes: CalendarChanges) -> Meeting | None:
        event_id = str(entry.get("id", ""))
        uid = str(entry.get("iCalUId") or event_id)
        series_start = None
        master = entry.get("seriesMasterId")
        if master and entry.get("type") in ("occurrence", "exception"):
            known = state.series.get(str(master))
            if known is not None:
                uid = known[0]
                series_start = datetime.fromisoformat(known[1]) if known[1] else None
        try:
            return to_meeting(entry, uid=uid, series_start=series_start,
                              self_addresses=self._self, source=self._source)
        except (ValueError, KeyError, TypeError) as e:
            reason = f"event skipped: {type(e).__name__}"
            log.warning("microsoft.calendar.skip", reason=reason)
            changes.errors.append(reason)
            return None

    def _learn_series(self, state: _Cursor, entries: list[dict[str, Any]]) -> None:
        """Look up the series masters we do not know yet, in $batch requests."""
        unknown = sorted({
            str(e["seriesMasterId"]) for e in entries
            if e.get("seriesMasterId") and "@removed" not in e
            and str(e["seriesMasterId"]) not in state.series
        })
        if not unknown:
            return
        answers = self._graph.batch([
            BatchRequest("GET", f"/me/events/{m}?$select=id,iCalUId,start", "events.master",
                         headers={"Prefer": 'outlook.timezone="UTC"'})
            for m in unknown
        ])
        for master, resp in zip(unknown, answers, strict=True):
            if resp.status != 200 or not isinstance(resp.body, dict):
                continue  # unknown: the occurrence keeps its own iCalUId
            try:
                start = parse_datetime_tz(resp.body.get("start")).isoformat()
            except ValueError:
                start = None
            state.series[master] = (str(resp.body.get("iCalUId") or master), start)

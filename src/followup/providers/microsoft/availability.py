"""Free/busy: getSchedule where the mailbox supports it, else computed from calendarView.

getSchedule answers one small request for the whole window but is not available to personal
Microsoft accounts (an error, sometimes a 500, sometimes an error inside a 200): after the
first failure this account reads calendarView instead.
"""

from __future__ import annotations

from typing import Any

import structlog

from followup.model import Interval
from followup.providers.microsoft.events import graph_datetime_tz, graph_time, parse_datetime_tz
from followup.providers.microsoft.graph import GraphClient

log = structlog.get_logger(__name__)

_BUSY_SCHEDULE = frozenset({"busy", "oof", "tentative"})
_FREE_SHOW_AS = frozenset({"free", "workingelsewhere"})
_UTC = {"Prefer": 'outlook.timezone="UTC"'}


class GraphAvailability:
    def __init__(self, graph: GraphClient, *, address: str | None, personal: bool) -> None:
        self._graph = graph
        self._address = address
        self._use_schedule = bool(address) and not personal

    def busy(self, window: Interval) -> list[Interval]:
        if self._use_schedule:
            found = self._from_schedule(window)
            if found is not None:
                return found
            self._use_schedule = False
        return self._from_calendar_view(window)

    def _from_schedule(self, window: Interval) -> list[Interval] | None:
        resp = self._graph.request(
            "POST", "/me/calendar/getSchedule", endpoint="calendar.getSchedule",
            json_body={"schedules": [self._address],
                       "startTime": graph_datetime_tz(window.start),
                       "endTime": graph_datetime_tz(window.end),
                       "availabilityViewInterval": 15},
            headers=_UTC, replay_safe=True, accept=range(400, 600),
        )
        schedules = resp.body.get("value") if resp.status == 200 else None
        if not schedules or not isinstance(schedules[0], dict) or "error" in schedules[0]:
            log.info("microsoft.getschedule_unavailable", status=resp.status,
                     code=resp.error_code)
            return None
        busy = []
        for item in schedules[0].get("scheduleItems") or []:
            if str(item.get("status", "")).lower() in _BUSY_SCHEDULE:
                busy.append(_interval(item))
        return [b for b in busy if b is not None]

    def _from_calendar_view(self, window: Interval) -> list[Interval]:
        items = self._graph.pages(
            "/me/calendarView", endpoint="calendarView",
            params={"startDateTime": graph_time(window.start) + "Z",
                    "endDateTime": graph_time(window.end) + "Z",
                    "$select": "start,end,showAs,isCancelled,responseStatus",
                    "$top": "200"},
            headers=_UTC, limit=5000,
        )
        busy = []
        for e in items:
            response = str((e.get("responseStatus") or {}).get("response") or "").lower()
            if (e.get("isCancelled") or response == "declined"
                    or str(e.get("showAs") or "busy").lower() in _FREE_SHOW_AS):
                continue
            busy.append(_interval(e))
        return [b for b in busy if b is not None]


def _interval(item: dict[str, Any]) -> Interval | None:
    try:
        return Interval(parse_datetime_tz(item.get("start")), parse_datetime_tz(item.get("end")))
    except ValueError:
        return None

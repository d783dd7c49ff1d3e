"""When each recurring series began: its master's `start`, read once per series.

With singleEvents=true Google lists instances only; an instance names its series
(`recurringEventId`) but not the series' first start, which the core needs to tell a
series' first occurrence (everyone on it is new) from a later one (only newcomers are).
The master's `start` is "the start time of the first instance" (Event.start), so one
`events.get` per series tells it; the answers live in the calendar cursor, so a series
costs one request the first time it is seen and none after, and an idle cycle none at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import structlog
from googleapiclient.errors import HttpError

from followup.errors import AuthError
from followup.model import SERIES_START_UNKNOWN
from followup.providers.google.calls import http_error
from followup.providers.google.client import GoogleClient
from followup.providers.google.events import EventSkipped, parse_when

log = structlog.get_logger(__name__)


class SeriesStarts:
    """recurringEventId -> the series' first start (None: its master could not be read).

    `known` comes from the cursor, as ISO strings; `dump()` gives it back for the next one.
    """

    def __init__(self, client: GoogleClient, calendar_id: str, source: str,
                 known: Mapping[str, str | None]) -> None:
        self._c = client
        self._calendar_id = calendar_id
        self._source = source
        self._known: dict[str, str | None] = dict(known)

    def learn(self, series_ids: Iterable[str]) -> None:
        """Read the master of each series not known yet (one events.get each).

        A transient failure (retries exhausted) and a refused grant propagate: the sync
        fails and runs again later from the same cursor, so nothing is guessed for good
        because of a passing outage.
        """
        for series_id in sorted(set(series_ids) - self._known.keys()):
            self._known[series_id] = self._read_master(series_id)

    def start_of(self, series_id: str) -> datetime:
        """The series' first start; SERIES_START_UNKNOWN for a master that was unreadable."""
        value = self._known.get(series_id)
        if value is None:
            return SERIES_START_UNKNOWN
        try:
            return datetime.fromisoformat(value)
        except ValueError:  # a hand-edited cursor: as unknown, never as "new"
            return SERIES_START_UNKNOWN

    def keep_only(self, series_ids: Iterable[str]) -> None:
        """Forget series that no longer show up (after a full sync), so the cursor stays
        small; a forgotten series that comes back costs one request again."""
        wanted = set(series_ids)
        self._known = {k: v for k, v in self._known.items() if k in wanted}

    def dump(self) -> dict[str, str | None]:
        return dict(sorted(self._known.items()))

    def _read_master(self, series_id: str) -> str | None:
        request = self._c.api.calendar.events().get(
            calendarId=self._calendar_id, eventId=series_id, fields="id,status,start")
        try:
            master = self._c.caller.read(request)
        except HttpError as e:
            error = http_error(e, f"{self._source}: events.get (series)")
            if isinstance(error, AuthError):
                raise error from None
            # 404/410 (the master is not in this calendar, e.g. one instance shared with
            # the user), 403 (no access to it), 400: asking again will not help.
            log.warning("google.series_master_unreadable", source=self._source,
                        status=int(e.resp.status))
            return None
        if master.get("status") == "cancelled":
            log.warning("google.series_master_unreadable", source=self._source,
                        status="cancelled")
            return None
        try:
            start, _ = parse_when(master.get("start"), self._c.default_tz)
        except EventSkipped as e:
            log.warning("google.series_master_unreadable", source=self._source,
                        reason=str(e))
            return None
        return start.isoformat()

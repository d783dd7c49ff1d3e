"""Busy time from the configured calendars and, optionally, our own follow-up blocks.

Each file's busy intervals are kept for a span reaching a month past the asked window, keyed
by the file's signature, so an unchanged calendar is read once and then only stat'ed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta, tzinfo

import structlog

from followup.errors import InputError
from followup.ical import parse_calendar
from followup.model import Interval, Meeting, MeetingStatus, PartStat
from followup.providers.local.calendars import check_icalendar
from followup.providers.local.locations import Location

log = structlog.get_logger(__name__)

SPAN_AHEAD = timedelta(days=31)


@dataclass(frozen=True, slots=True)
class _Cached:
    signature: str
    span: Interval
    busy: tuple[Interval, ...]


def is_busy(meeting: Meeting, user_addresses: Collection[str]) -> bool:
    if meeting.transparent or meeting.status is MeetingStatus.CANCELLED:
        return False
    return not any(
        a.partstat is PartStat.DECLINED and (a.is_self or a.email in user_addresses)
        for a in meeting.attendees
    )


class LocalAvailability:
    def __init__(
        self, locations: Sequence[Location], default_tz: tzinfo, user_addresses: Collection[str]
    ) -> None:
        self.locations = list(locations)
        self.default_tz = default_tz
        self.user = {a.lower() for a in user_addresses}
        self._cache: dict[tuple[str, str], _Cached] = {}

    def busy(self, window: Interval) -> list[Interval]:
        found: list[Interval] = []
        for location in self.locations:
            try:
                items = location.items()
            except InputError as e:  # a calendar we cannot read shows no busy time; say so
                log.warning("availability.calendar_unavailable", calendar=location.label,
                            reason=str(e))
                continue
            for item in items:
                key = (location.label, item.name)
                cached = self._cache.get(key)
                if cached is None or cached.signature != item.signature or not (
                    cached.span.start <= window.start and window.end <= cached.span.end
                ):
                    cached = self._read(location, item.name, item.signature, item.read, window)
                    if cached is None:
                        continue
                    self._cache[key] = cached
                found.extend(b for b in cached.busy if b.overlaps(window))
        return sorted(found, key=lambda b: (b.start, b.end))

    def _read(self, location: Location, name: str, signature: str,
              read: Callable[[], bytes | None], window: Interval) -> _Cached | None:
        try:
            data = read()
            if data is not None:
                check_icalendar(data)
        except InputError as e:  # reported by the calendar source; no busy time from it
            log.debug("availability.file_skipped", calendar=location.label, file=name,
                      reason=str(e))
            return None
        if data is None:
            return None
        span = Interval(window.start, window.end + SPAN_AHEAD)
        parsed = parse_calendar(data, source=f"calendar:{location.label}/{name}", window=span,
                                default_tz=self.default_tz)
        busy = tuple(Interval(m.start, m.end) for m in parsed.meetings
                     if is_busy(m, self.user) and m.end > m.start)
        return _Cached(signature, span, busy)

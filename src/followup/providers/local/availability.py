"""Busy time from the configured calendars and, optionally, our own follow-up blocks.

Each file's busy intervals are kept for a span reaching a month past the asked window, keyed
by the file's signature, so an unchanged calendar is read once and then only stat'ed. A file
the sync has just parsed is not parsed again: its meetings wait in the shared ParseCache.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta, tzinfo

import structlog

from followup.errors import InputError
from followup.model import Interval, Meeting, MeetingStatus, PartStat
from followup.providers.local.calendars import check_icalendar
from followup.providers.local.locations import Location
from followup.providers.local.parsecache import ParseCache, skim

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
        self, locations: Sequence[Location], default_tz: tzinfo, user_addresses: Collection[str],
        shared: ParseCache | None = None,
    ) -> None:
        self.locations = list(locations)
        self.default_tz = default_tz
        self.user = {a.lower() for a in user_addresses}
        self._cache: dict[tuple[str, str], _Cached] = {}
        self.shared = shared  # what the calendar sources parsed for us

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
                    parsed = self.shared.take(location.label, item.name, item.signature,
                                              window) if self.shared is not None else None
                    if parsed is not None:
                        cached = self._busy_of(parsed.meetings, item.signature, parsed.window)
                    else:
                        cached = self._read(location, item.name, item.signature, item.read,
                                            window)
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
        if skim(data, span) is not None:  # nothing of it in the span: no need to parse
            return _Cached(signature, span, ())
        from followup.ical.parse import parse_calendar

        parsed = parse_calendar(data, source=f"calendar:{location.label}/{name}", window=span,
                                default_tz=self.default_tz)
        return self._busy_of(parsed.meetings, signature, span)

    def _busy_of(self, meetings: Sequence[Meeting], signature: str, span: Interval) -> _Cached:
        busy = tuple(Interval(m.start, m.end) for m in meetings
                     if is_busy(m, self.user) and m.end > m.start)
        return _Cached(signature, span, busy)

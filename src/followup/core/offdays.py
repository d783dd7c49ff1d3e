"""Days a follow-up block or due date must not fall on: public holidays of the user's country
(the `holidays` package) and days the user's calendar shows as taken from the start to the end
of the working day (out of office, an all-day busy event). PLAYBOOK §3.

Pure: the country, the user's zone, the schedule and the busy time in, answers out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from followup.config import WEEKDAYS, ScheduleConfig
from followup.model import Interval

# How far back a batch may move to find a working day before giving up (a long holiday).
MAX_STEPS_BACK = 14


def check_country(value: str) -> str:
    """ "DE", "de-by", "" -> "DE", "DE-BY", "": a country (and subdivision) `holidays`
    knows; anything else is a clear config error."""
    value = value.strip().upper()
    if not value:
        return ""
    import holidays

    country, _, subdiv = value.partition("-")
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise ValueError(f"unknown country {value!r} (an ISO 3166 code such as DE, US, FR)")
    if subdiv and subdiv not in supported[country]:
        raise ValueError(f"unknown subdivision {subdiv!r} of {country}")
    return value


class OffDays:
    def __init__(
        self,
        country: str,
        tz: ZoneInfo,
        schedule: ScheduleConfig,
        busy: Sequence[Interval] = (),
    ) -> None:
        self._tz = tz
        self._schedule = schedule
        self._busy = sorted(busy, key=lambda b: b.start)
        self._holidays: dict[date, str] = {}
        self._country = country
        self._years: set[int] = set()

    def holiday(self, day: date) -> str | None:
        """The holiday's name, when `day` is one in the user's country."""
        if not self._country:
            return None
        if day.year not in self._years:
            import holidays

            country, _, subdiv = self._country.partition("-")
            found = holidays.country_holidays(country, subdiv=subdiv or None, years=day.year)
            self._holidays.update({d: str(name) for d, name in found.items()})
            self._years.add(day.year)
        return self._holidays.get(day)

    def away(self, day: date) -> bool:
        """Whether busy time covers the whole working day (out of office, all-day busy)."""
        start = datetime.combine(day, self._schedule.day_start, tzinfo=self._tz).astimezone(UTC)
        end = datetime.combine(day, self._schedule.day_end, tzinfo=self._tz).astimezone(UTC)
        cursor = start
        for b in self._busy:
            if b.end <= cursor or b.start >= end:
                continue
            if b.start > cursor:
                return False
            cursor = max(cursor, b.end)
            if cursor >= end:
                return True
        return cursor >= end

    def working(self, day: date) -> bool:
        if WEEKDAYS[day.weekday()] not in self._schedule.working_days:
            return False
        return self.holiday(day) is None and not self.away(day)

    def why_off(self, day: date) -> str | None:
        """One phrase for the block: why a batch moved off `day`."""
        name = self.holiday(day)
        if name:
            return name
        if self.away(day):
            return "you are away"
        return None

    def previous_working(self, day: date) -> date | None:
        """`day` if it is a working day, else the working day before it (None: none near)."""
        for _ in range(MAX_STEPS_BACK):
            if self.working(day):
                return day
            day -= timedelta(days=1)
        return None

    def next_working(self, day: date) -> date | None:
        for _ in range(MAX_STEPS_BACK * 4):
            if self.working(day):
                return day
            day += timedelta(days=1)
        return None

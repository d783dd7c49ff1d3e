"""Small builders for core tests: a user, meetings and people with sensible defaults."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from followup.config import ScheduleConfig, TriageConfig, UserConfig
from followup.model import Attendee, Meeting, PartStat

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

USER = UserConfig(
    name="Ada Lovelace",
    addresses=["ada@lovelace.dev", "ada.lovelace@gmail.com"],
    domains=["lovelace.dev"],
    timezone="Europe/Berlin",
    intro="I run Lovelace Analytics, a two-person shop for engine benchmarks.",
    signature="Ada Lovelace\nLovelace Analytics",
)
RULES = TriageConfig()
SCHEDULE = ScheduleConfig()

ME = Attendee("ada@lovelace.dev", "Ada Lovelace", PartStat.ACCEPTED, is_organizer=True)
JANE = Attendee("jane.doe@acme-corp.com", "Jane Doe", PartStat.ACCEPTED)
BOB = Attendee("bob@roe-industries.com", "Bob Roe", PartStat.ACCEPTED)


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0, tz: ZoneInfo = BERLIN) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz)


def meeting(
    *people: Attendee,
    start: datetime | None = None,
    minutes: int = 60,
    **kw: Any,
) -> Meeting:
    start = start or local(2026, 3, 3, 10)  # a Tuesday
    kw.setdefault("uid", "m1@example.com")
    kw.setdefault("title", "Benchmark chat")
    attendees = people if people else (ME, JANE)
    return Meeting(start=start, end=start + timedelta(minutes=minutes), attendees=attendees, **kw)

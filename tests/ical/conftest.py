from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from followup.model import Interval

DATA = Path(__file__).resolve().parents[1] / "data"
MAILS = DATA / "calmailproc" / "maildir" / "cur"
CALENDARS = DATA / "recurring-ical-events"
BERLIN = ZoneInfo("Europe/Berlin")
UTC_ZONE = ZoneInfo("UTC")


def window(start: str, end: str) -> Interval:
    return Interval(datetime.fromisoformat(start).replace(tzinfo=UTC),
                    datetime.fromisoformat(end).replace(tzinfo=UTC))

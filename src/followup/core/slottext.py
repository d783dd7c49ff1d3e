"""Times and dates as a person writes them in a mail, in the reader's language and zone.

Babel spells weekdays and months per language, so a German draft says "Dienstag, 3. März" and
never depends on the process locale. No year is ever written: a follow-up proposes days in the
coming week, and "2026" only makes a note read like a form letter.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from followup.model import Interval

# Weekday and day of month, no year: babel patterns per language (CLDR field letters).
_DAY_PATTERNS = {
    "en": "EEEE d MMMM",
    "de": "EEEE, d. MMMM",
    "es": "EEEE d 'de' MMMM",
    "fr": "EEEE d MMMM",
}
_YOUR_TIME = {
    "en": "your time",
    "de": "Ihre Zeit",
    "es": "su hora",
    "fr": "votre heure",
}


def _lang(language: str) -> str:
    return language if language in _DAY_PATTERNS else "en"


def format_day(when: datetime, tz: ZoneInfo, language: str = "en") -> str:
    """ "Tuesday 3 March", "Dienstag, 3. März", "martes 3 de marzo", "mardi 3 mars"."""
    from babel.dates import format_datetime  # babel's locale data loads on first use

    lang = _lang(language)
    return format_datetime(when.astimezone(tz), _DAY_PATTERNS[lang], locale=lang)


def _hm(when: datetime, tz: ZoneInfo) -> str:
    local = when.astimezone(tz)
    return f"{local.hour}:{local.minute:02d}"


def zone_city(tz: ZoneInfo, language: str = "en") -> str:
    """The zone's exemplar city, as people name zones in a mail: "Berlin", "Los Angeles"."""
    from babel.dates import get_timezone_location

    try:
        city = get_timezone_location(tz, locale=_lang(language), return_city=True)
    except (LookupError, ValueError):  # a zone CLDR does not know: its id is still readable
        city = ""
    return str(city) or tz.key.rsplit("/", 1)[-1].replace("_", " ")


def same_clock(a: ZoneInfo, b: ZoneInfo, when: datetime) -> bool:
    """Whether two zones show the same time at `when` (Paris and Berlin do)."""
    return when.astimezone(a).utcoffset() == when.astimezone(b).utcoffset()


def format_slot(
    slot: Interval,
    user_tz: ZoneInfo,
    their_tz: ZoneInfo | None = None,
    language: str = "en",
) -> str:
    """A proposed time as the reader should see it.

    Same zone (or unknown): "Tuesday 3 March, 10:30–11:00". Another zone: the reader's day and
    time first, then the user's: "Tuesday 3 March, 9:00–9:30 your time (Los Angeles) /
    18:00–18:30 Berlin".
    """
    if their_tz is None or same_clock(their_tz, user_tz, slot.start):
        return f"{format_day(slot.start, user_tz, language)}, " + (
            f"{_hm(slot.start, user_tz)}–{_hm(slot.end, user_tz)}"
        )
    lang = _lang(language)
    theirs = f"{_hm(slot.start, their_tz)}–{_hm(slot.end, their_tz)}"
    ours = f"{_hm(slot.start, user_tz)}–{_hm(slot.end, user_tz)}"
    return (
        f"{format_day(slot.start, their_tz, lang)}, {theirs} {_YOUR_TIME[lang]} "
        f"({zone_city(their_tz, lang)}) / {ours} {zone_city(user_tz, lang)}"
    )

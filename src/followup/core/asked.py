"""When and how a contact asked to hear back, read from the user's private notes.

PLAYBOOK §3: "call me in three months", "ping me in 3 weeks", "after Q1", "ruf mich im März
an" win over the default cadence. The date phrase itself is read by dateparser (a maintained
library, many languages); this module only finds the lines that ask for contact and adds the
one rule dateparser lacks: business quarters ("after Q1", "in Q3").

Pure: text and a reference time in, an `Ask` (or None) out.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

Channel = Literal["email", "call"]

# A line must ask for contact before its date phrase counts: "met at 10am" is not an ask.
_ASK = re.compile(
    r"\b(ping|call|ring|phone|e-?mail|write|reach(?:\s+out)?|get\s+back|follow[\s-]?up|"
    r"touch\s+base|talk|speak|contact|check\s+in|circle\s+back|hear|reconnect|catch\s+up|"
    r"ruf\w*|anruf\w*|meld\w*|schreib\w*|telefon\w*|kontakt\w*|sprechen|"
    r"ll[aá]m\w*|escrib\w*|contact\w*|habl\w*|appel\w*|[ée]cri\w*|rappel\w*|recontact\w*)\b",
    re.IGNORECASE,
)
# Words that make the asked touch a phone call rather than a mail.
_CALL = re.compile(
    r"\b(call|ring|phone|ruf\w*|anruf\w*|telefon\w*|ll[aá]m\w*|appel\w*|rappel\w*)\b",
    re.IGNORECASE,
)
_NEGATED = re.compile(r"\b(don'?t|do not|never|nicht|kein|no me|ne m)\b", re.IGNORECASE)
# "after Q1", "nach Q2", "después del Q3", "après le T1"; "in Q2", "im Q3", "en el Q4".
_QUARTER = re.compile(
    r"\b(?P<after>after|nach(?:\s+dem)?|despu[eé]s\s+del?|apr[eè]s\s+(?:le\s+)?)?\s*"
    r"(?:(?:in|im|en(?:\s+el)?|au)\s+)?(?:Q|T)(?P<q>[1-4])\b",
    re.IGNORECASE,
)
LANGUAGES = ["en", "de", "es", "fr"]
# The longest line looked at: a pasted mail thread is not a request.
MAX_LINE = 300


@dataclass(frozen=True, slots=True)
class Ask:
    """What the contact asked for: a day to hear back (None: no time given) and a channel."""

    at: datetime | None
    channel: Channel
    phrase: str  # the words it was read from, for the user's block


def read_ask(notes: str, *, base: datetime, tz: ZoneInfo) -> Ask | None:
    """The first line of `notes` that asks for contact, with its day (local midnight, as
    UTC) counted from `base` (the meeting's end); None when the notes ask for nothing."""
    for raw in notes.splitlines():
        line = raw.strip()
        if not line or len(line) > MAX_LINE or not _ASK.search(line) or _NEGATED.search(line):
            continue
        channel: Channel = "call" if _CALL.search(line) else "email"
        found = _quarter(line, base.astimezone(tz).date())
        phrase = found[1] if found else ""
        day = found[0] if found else None
        if day is None:
            parsed = _search(line, base.astimezone(tz))
            if parsed is not None:
                day, phrase = parsed
        if day is None and channel == "email":
            continue  # "email is best" with no time: the default cadence, by mail
        at = None if day is None else datetime.combine(day, time(0, 0), tzinfo=tz).astimezone(UTC)
        if at is not None and at <= base:
            continue
        return Ask(at=at, channel=channel, phrase=phrase or line[:80])
    return None


def _quarter(line: str, today: date) -> tuple[date, str] | None:
    """ "after Q1": the first day of Q2; "in Q3": the first day of Q3 (the next one to come)."""
    m = _QUARTER.search(line)
    if m is None:
        return None
    q = int(m.group("q"))
    if m.group("after"):
        q += 1
    year = today.year
    if q == 5:
        q, year = 1, year + 1
    start = date(year, 3 * (q - 1) + 1, 1)
    if start <= today:
        start = date(year + 1, start.month, 1)
    return start, m.group(0).strip()


def _search(line: str, base: datetime) -> tuple[date, str] | None:
    # Imported here: dateparser loads its language data on first use (about a second).
    from dateparser.search import search_dates

    settings = {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": base.replace(tzinfo=None),
        "RETURN_AS_TIMEZONE_AWARE": False,
    }
    with warnings.catch_warnings():  # dateparser's own deprecation noise, not ours
        warnings.simplefilter("ignore")
        try:
            hits = search_dates(line, languages=LANGUAGES, settings=settings)
        except (ValueError, OverflowError, TypeError):
            return None
    for phrase, when in hits or ():
        day = when.date()
        # A clock time alone ("at 10am") names today or tomorrow: not a request for later.
        if (day - base.date()).days >= 2:
            return day, phrase
    return None

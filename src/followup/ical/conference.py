"""Find the video-call link of a meeting.

Calendars say it in many ways: RFC 7986 CONFERENCE properties, Google's
X-GOOGLE-CONFERENCE, Microsoft's X-MICROSOFT-SKYPETEAMSMEETINGURL, or just a link pasted
into LOCATION, URL or DESCRIPTION. The first known video service wins, in that order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

# An icalendar component. Its typed .get() returns a union of thirty value classes that
# the code below tells apart at run time (vBroken, lists, .dt), so it is Any here.
VEvent = Any

_URL = re.compile(r"https?://[^\s<>\"'()\[\]{}|\\^`]+", re.IGNORECASE)

# Hosts (or host suffixes) of video services, and the path a meeting link has there.
_SERVICES: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (re.compile(r"(^|\.)teams\.microsoft\.com$"), re.compile(r"^/(l/meetup-join|meet)/")),
    (re.compile(r"(^|\.)teams\.live\.com$"), re.compile(r"^/meet/")),
    (re.compile(r"^meet\.google\.com$"), re.compile(r"^/[a-z]{3}-[a-z]{4}-[a-z]{3}")),
    (
        re.compile(r"(^|\.)(zoom\.us|zoomgov\.com|zoom-x\.de|zoom\.com)$"),
        re.compile(r"^/(j|my|w|s)/"),
    ),
    (re.compile(r"(^|\.)webex\.com$"), re.compile(r"^/")),
    (re.compile(r"^meet\.jit\.si$"), re.compile(r"^/.")),
    (re.compile(r"(^|\.)whereby\.com$"), re.compile(r"^/.")),
    (re.compile(r"(^|\.)gotomeet(ing)?\.(com|me)$"), re.compile(r"^/.")),
)

_EXPLICIT = ("CONFERENCE", "X-GOOGLE-CONFERENCE", "X-MICROSOFT-SKYPETEAMSMEETINGURL",
             "X-MICROSOFT-ONLINEMEETINGCONFLINK")
_FREE_TEXT = ("LOCATION", "URL", "DESCRIPTION")


def is_meeting_link(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    return any(h.search(host) and p.search(parts.path or "/") for h, p in _SERVICES)


def links_in(text: str) -> Iterable[str]:
    for m in _URL.finditer(text):
        yield m.group(0).rstrip(".,;:!?")


def conference_url(event: VEvent) -> str | None:
    for name in _EXPLICIT:
        for value in _values(event, name):
            url = value.strip()
            if url.lower().startswith(("http://", "https://")):
                return url
    for name in _FREE_TEXT:
        for value in _values(event, name):
            for url in links_in(value):
                if is_meeting_link(url):
                    return url
    return None


def _values(event: VEvent, name: str) -> list[str]:
    raw = event.get(name)
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    return [str(v) for v in items]

"""The user's own notes from a meeting's description, without the video-call boilerplate.

Calendar descriptions are often HTML and usually carry a block the conferencing or scheduling
product inserted (Zoom, Google Meet, Microsoft Teams classic and 2024, Webex, Calendly,
Riverside): join links, dial-in numbers, meeting ID and passcode lines, cancel/reschedule links,
separator rules. None of that is something the user wrote, so it must never reach the follow-up
block, the contact card or the material a draft is built from.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser


def _wordset(text: str) -> frozenset[str]:
    """A set from a whitespace-separated word list (long lists read better as text)."""
    return frozenset(text.split())


# Tags that end a line, and those that end a paragraph (a blank line after them).
_LINE_TAGS = _wordset("div li ul ol tr table section article hr pre dl dt dd")
_PARAGRAPH_TAGS = _wordset("p h1 h2 h3 h4 h5 h6 blockquote")
_SKIP_TAGS = frozenset({"script", "style", "head", "title"})
_HTML_HINT = re.compile(r"<\s*(/?\s*[a-zA-Z][a-zA-Z0-9]*)(\s[^<>]*)?/?>")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def _break(self, newlines: int) -> None:
        """End the current line (or paragraph): top up to `newlines` line ends in a row."""
        if not self.parts:
            return
        tail = "".join(self.parts[-4:]).rstrip(" ")
        have = len(tail) - len(tail.rstrip("\n"))
        self.parts.append("\n" * max(0, newlines - have))

    def _boundary(self, tag: str) -> None:
        if tag in _PARAGRAPH_TAGS:
            self._break(2)
        elif tag in _LINE_TAGS:
            self._break(1)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skipping += 1
            return
        if tag == "br":
            self.parts.append("\n")
            return
        self._boundary(tag)
        if tag == "li":
            self.parts.append("- ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        else:
            self._boundary(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skipping = max(0, self._skipping - 1)
        else:
            self._boundary(tag)

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(text: str) -> str:
    """Plain text from an HTML description; plain text passes through (entities decoded)."""
    if not _HTML_HINT.search(text):
        return html.unescape(text)
    parser = _TextExtractor()
    # Line breaks in HTML source are just spaces; the tags say where lines end.
    parser.feed(re.sub(r"\s*\n\s*", " ", text))
    parser.close()
    return "".join(parser.parts).replace("\xa0", " ")


# --- Boilerplate -----------------------------------------------------------------------------

# Google Calendar and Microsoft Teams wrap their block in marker lines: everything between an
# opening and a closing marker is theirs. (If the closing marker is missing, only the lines
# below that look like boilerplate are dropped: the user's notes may follow.)
_FENCES = [
    re.compile(r"^-::~:~::~"),  # Google Calendar, around its Meet block
    re.compile(r"^_{20,}\s*$"),  # Microsoft Teams
]

# A Zoom invitation pasted into a description opens with this line, then "Topic:" and "Time:".
_ZOOM_HEADER = re.compile(r"is inviting you to a scheduled Zoom meeting", re.IGNORECASE)
_ZOOM_HEADER_FIELDS = re.compile(r"^(Topic|Time)\s*:", re.IGNORECASE)

_CONFERENCE_HOSTS = (
    r"zoom\.us|zoomgov\.com|meet\.google\.com|tel\.meet|teams\.microsoft\.com|teams\.live\.com|"
    r"webex\.com|gotomeeting\.com|gotomeet\.me|whereby\.com|bluejeans\.com|aka\.ms|"
    r"microsoft\.com/(\S*/)?microsoft-teams|support\.google\.com|calendar\.google\.com|"
    r"dialin\.teams|lync\.webex|calendly\.com|riverside\.fm|riverside\.com/studio"
)
# Single lines that are conferencing boilerplate wherever they appear.
_NOISE_LINES = [
    re.compile(p, re.IGNORECASE)
    for p in (
        rf"https?://\S*({_CONFERENCE_HOSTS})",
        r"^(Zoom |Webex )?Meeting (ID|number)\b",
        r"^(Phone )?Conference ID\s*:",
        r"^(Passcode|Password|Meeting password|Numeric meeting password|Access code|PIN)\s*:",
        r"^Join Zoom Meeting\s*$",
        r"^One tap mobile\b",
        r"^Dial by your location\b",
        r"^Find your local number\b",
        r"^Find a local number\b",
        r"^Join by SIP\b",
        r"^Join by H\.323\b",
        r"^Join by Skype for Business\b",
        r"^Join by phone\b",
        r"^Join from a video system\b",
        r"^Join using Microsoft Lync\b",
        r"^(Or )?(dial|call in)\b.*(\d|audio only)",
        r"^You can also dial\b",
        r"^Dial \S+@\S+",
        # Dial-in numbers: "+1 646 558 8656 US (New York)", "+16465588656,,8123#,,,,*1# US",
        # "+1 323-555-0166,,123456789#   United States, Los Angeles", "646 558 8656".
        r"^\+\d[\d\s().\-]{6,}\d(,,[\d#*,]+)?#*(\s+[A-Za-z(].*)?$",
        r"^\d[\d\s().\-]{8,}\d#*$",
        r"^\(?[A-Z]{2}\)?\s*\+\d",
        r"<tel:\+?\d",
        r"^\S+@zoomcrc\.com$",  # Zoom's SIP address
        r"^\d{1,3}(\.\d{1,3}){3}\s*(\(.*\))?$",  # H.323 gateway addresses
        # Separator rules: Zoom's "---", Teams' underscores, box drawing, "=====", "* * *".
        r"^(?=(?:\s*[\u2500-\u257f_*=~\-\u2013\u2014]){3})[\s\u2500-\u257f_*=~\-\u2013\u2014•·.:]+$",
        r"^(More phone numbers|View more phone numbers|Other numbers|Global call-in numbers)\b",
        r"^Join with Google Meet\b",
        r"^Join on your computer,? mobile app or room device\b",
        r"^Click here to join the meeting\b",
        r"^Microsoft Teams (meeting|Need help\?)",
        r"^Microsoft Teams\s*$",
        # Teams 2024: "Dial in by phone", the video-device section, the organiser links.
        r"^Dial in by phone\b",
        r"^Join (on|with|from) a video conferencing device\b",
        r"^Tenant key\s*:",
        r"^Video ID\s*:",
        r"^More info\s*(<|\||$)",
        r"^Org help\s*(<|\||$)",
        r"^Privacy and security\s*(<|\||$)",
        r"^Reset dial-in PIN\b",
        r"^Download Teams\b",
        r"^(Join|Join the meeting now|Join meeting|Join the meeting)\s*$",
        r"^When it's time, join the Webex meeting\b",
        r"^Join (the )?(Cisco )?Webex meeting\b",
        r"^Some mobile devices may ask attendees\b",
        r"^If you are a host, click here\b",
        r"^Tap to join from a mobile device\b",
        r"^Learn more about Meet\b",
        r"^Please do not edit this section\.?\s*$",
        r"^Meeting link:?\s*$",
        r"^Need help\?",
        r"^For organizers:",
        r"^Meeting options\b",
        r"^Learn More\s*(\||$)",
        r"^Reset PIN\b",
        r"^Invitation from Google Calendar\b",
        r"^You are receiving this (email|courtesy email)\b",
        r"^Forwarding this invitation\b",
        r"^To stop receiving\b",
        r"^Reply for \S+@",
        r"^View all guest info\b",
        # Calendly writes the booking into the host's event; the invitee's answers stay.
        r"^Event Name\s*:",
        r"^Event Date/Time\s*:",
        r"^Invitee( Email| Time Zone| Name)?\s*:",
        r"^Location: This is an? .*(web conference|meeting|phone call)",
        r"^You can join this meeting from your computer\b",
        r"^Questions\s*:\s*$",
        r"^Please share anything that will help prepare for our meeting\.?\s*$",
        r"^Need to make changes to this event\?",
        r"^(Cancel|Reschedule)\s*:\s*$",
        r"^Powered by Calendly(\.com)?\b",
        # Riverside (podcast and video recording studio).
        r"^Join (the |my |our )?(Riverside )?studio\b",
        r"^You('re| are) invited to (a |the |join )?.*\bRiverside\b",
        r"^(Please |Make sure to )?(join|use)\b.*\b(Google Chrome|Riverside (app|mobile app))\b",
    )
]
_BLANKS = re.compile(r"\n{3,}")


def _is_noise(line: str) -> bool:
    return any(p.search(line) for p in _NOISE_LINES)


def _drop_fenced(lines: list[str]) -> list[str]:
    """Remove the blocks between two fence lines of the same kind."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        fence = next((f for f in _FENCES if f.search(lines[i])), None)
        if fence is not None:
            close = next((j for j in range(i + 1, len(lines)) if fence.search(lines[j])), None)
            if close is not None:
                i = close + 1
                continue
            i += 1  # an unclosed fence: drop the marker, judge the rest line by line
            continue
        out.append(lines[i])
        i += 1
    return out


def strip_boilerplate(text: str) -> str:
    """Drop conferencing blocks and lines, keep what the user wrote, in order."""
    out: list[str] = []
    in_zoom_header = False
    for raw in _drop_fenced([line.strip() for line in text.splitlines()]):
        line = raw.strip()
        if _ZOOM_HEADER.search(line):
            in_zoom_header = True
            continue
        if in_zoom_header and (not line or _ZOOM_HEADER_FIELDS.search(line)):
            continue
        in_zoom_header = False
        # Zoom lists numbers as "• +1 646 558 8656 US (New York)": judge the line sans bullet.
        if _is_noise(line) or _is_noise(line.lstrip("•·*- \t")):
            continue
        out.append(line)
    joined = "\n".join(out).strip()
    return _BLANKS.sub("\n\n", joined)


def user_notes(description: str) -> str:
    """The user's notes from a meeting description, as plain text ("" when there are none)."""
    if not description or not description.strip():
        return ""
    text = html_to_text(description.replace("\r\n", "\n").replace("\r", "\n"))
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return strip_boilerplate(text)

"""Meetings from calendar files: a vdir, a single .ics file, or an .ics URL.

The cursor is a JSON fingerprint of the items seen: name -> signature, UIDs, and the start of
the next occurrence beyond the window. An unchanged item is not read again, unless one of its
occurrences is about to enter the window (a weekly series, an event next month). A changed
item's old UIDs are removed and its new content upserted; a deleted item's UIDs are removed.
When nothing changed, the cursor handed back is the one given (nothing to store).

A file is parsed over a window wide enough for free/busy too, and its meetings left in the
account's ParseCache, so free/busy does not parse it again; a file whose events all lie far
from the window is only skimmed (parsecache.skim).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

import structlog

from followup.errors import InputError
from followup.model import CalendarChanges, Interval, Meeting, OccurrenceRef
from followup.providers.local.locations import Item, Location
from followup.providers.local.parsecache import ParseCache, Parsed, skim, wide_window

if TYPE_CHECKING:
    from followup.ical.parse import ParsedCalendar

log = structlog.get_logger(__name__)

CURSOR_VERSION = 1


@dataclass(slots=True)
class Seen:
    signature: str
    uids: list[str]
    next_start: float | None  # POSIX time of the next occurrence after the window, if any

    def dump(self) -> list[object]:
        return [self.signature, self.uids, self.next_start]


class CalendarSource:
    """A MeetingSource over one configured calendar location."""

    def __init__(self, location: Location, default_tz: tzinfo,
                 cache: ParseCache | None = None) -> None:
        self.location = location
        self.default_tz = default_tz
        self.cache = cache  # shared with the account's free/busy
        self._name = f"calendar:{location.label}"

    @property
    def name(self) -> str:
        return self._name

    def changes(self, cursor: str | None, window: Interval) -> CalendarChanges:
        before = _load(cursor)
        full = before is None
        seen_before = before or {}
        # A location that cannot be listed (missing, unreachable) raises InputError: the
        # cycle reports the source as failed and keeps everything it knew (unreachable is
        # not empty), and `run --once` exits 1.
        items = self.location.items()
        if self.cache is not None:
            self.cache.forget(self.location.label)

        # Entries are kept as the cursor holds them, [signature, uids, next_start]: an idle
        # pass over 10,000 files builds no objects for them.
        now_seen: dict[str, list[Any]] = {}
        upserts: list[Meeting] = []
        errors: list[str] = []
        gone_uids: set[str] = set()
        kept_uids: set[str] = set()  # UIDs of items not read this pass: still current
        horizon = window.end.timestamp()
        changed = full
        for item in items:
            old = seen_before.get(item.name)
            unchanged = old is not None and old[0] == item.signature
            if unchanged and old is not None and not (old[2] is not None and old[2] < horizon):
                now_seen[item.name] = old
                kept_uids.update(old[1])
                continue
            changed = True
            entry = self._read(item, window, upserts, errors)
            if entry is None:
                if old is not None:  # unreadable now: keep what it held until it changes
                    now_seen[item.name] = [item.signature, old[1], None]
                    kept_uids.update(old[1])
                continue
            if old is not None and not unchanged:
                gone_uids.update(old[1])
            now_seen[item.name] = entry.dump()

        for name, old in seen_before.items():
            if name not in now_seen:
                gone_uids.update(old[1])
                changed = True
        removed = [OccurrenceRef(uid) for uid in sorted(gone_uids - kept_uids)]
        return CalendarChanges(
            upserts=upserts, removed=removed, cursor=_dump(now_seen) if changed else cursor,
            full=full, errors=errors,
        )

    def _read(
        self, item: Item, window: Interval, upserts: list[Meeting], errors: list[str]
    ) -> Seen | None:
        what = f"{self.location.label}/{item.name}" if item.name != self.location.label else (
            item.name)
        try:
            data = item.read()
            if data is not None:
                check_icalendar(data)
        except InputError as e:
            errors.append(f"calendar:{what}: {e}")
            log.warning("calendar.file_skipped", source=self.name, file=what, reason=str(e))
            return None
        if data is None:
            return None
        wide = wide_window(window) if self.cache is not None else window
        skimmed = skim(data, wide)
        if skimmed is not None:
            if self.cache is not None:
                self.cache.put(self.location.label, item.name, Parsed(item.signature, wide, ()))
            nxt = skimmed.next_start.timestamp() if skimmed.next_start else None
            return Seen(item.signature, sorted(skimmed.uids), nxt)
        parsed = self._parse(data, what, item, window, wide)
        errors.extend(parsed.errors)
        if parsed.errors and not parsed.uids:
            log.warning("calendar.file_skipped", source=self.name, file=what,
                        reason=parsed.errors[0])
            return None
        upserts.extend(parsed.meetings)
        nxt = parsed.next_start.timestamp() if parsed.next_start else None
        return Seen(item.signature, sorted(parsed.uids), nxt)

    def _parse(self, data: bytes, what: str, item: Item, window: Interval,
               wide: Interval) -> ParsedCalendar:
        """The file's meetings in `window`, parsed over `wide` and left in the cache for
        free/busy; over `window` alone when the wide reading hit a cap (a capped series
        would read differently over the two windows)."""
        from followup.ical.parse import TOO_MANY

        source = f"calendar:{what}"
        if wide == window:
            return parse_calendar(data, source=source, window=window,
                                  default_tz=self.default_tz, look_ahead=True)
        parsed = parse_calendar(data, source=source, window=wide, default_tz=self.default_tz,
                                look_ahead=True)
        if any(s.code == TOO_MANY for s in parsed.skipped):
            return parse_calendar(data, source=source, window=window,
                                  default_tz=self.default_tz, look_ahead=True)
        assert self.cache is not None
        self.cache.put(self.location.label, item.name,
                       Parsed(item.signature, wide, tuple(parsed.meetings)))
        return _within(parsed, window)


def parse_calendar(data: bytes, *, source: str, window: Interval, default_tz: tzinfo,
                   look_ahead: bool) -> ParsedCalendar:
    """followup.ical's parser, imported when a file is first parsed: an idle pass, which
    parses nothing, does not load icalendar."""
    from followup.ical.parse import parse_calendar as parse

    return parse(data, source=source, window=window, default_tz=default_tz,
                 look_ahead=look_ahead)


def _within(parsed: ParsedCalendar, window: Interval) -> ParsedCalendar:
    """What parsing over `window` gives, from a parse over a window containing it: the
    occurrences overlapping it (as the parser decides), and the next start after it."""
    from followup.ical.parse import ParsedCalendar

    inside: list[Meeting] = []
    later: list[datetime] = []
    for m in parsed.meetings:
        if (m.start < window.end and window.start < m.end) or (
            m.start == m.end and window.start <= m.start < window.end
        ):
            inside.append(m)
        elif m.start >= window.end:
            # An all-day meeting's start is its DTSTART moved to the user's days: a day
            # earlier (never before the window's end) only makes the file be read sooner.
            later.append(max(m.start - timedelta(days=1), window.end) if m.all_day
                         else m.start)
    if parsed.next_start is not None:
        later.append(parsed.next_start)
    return ParsedCalendar(meetings=inside, uids=parsed.uids, method=parsed.method,
                          errors=parsed.errors, next_start=min(later, default=None),
                          skipped=parsed.skipped, notes=parsed.notes)


def check_icalendar(data: bytes) -> None:
    """Refuse, without quoting it, a file whose first line is not the start of a calendar:
    the parser's own message would carry the line's text, and a file in a calendar folder
    may be anything (a note, a key, a link someone made by mistake)."""
    head = data[:4096]
    text = head.lstrip(b"\xef\xbb\xbf")
    stripped = text.lstrip()
    if stripped[:6].upper() == b"BEGIN:":
        return
    line = text[: len(text) - len(stripped)].count(b"\n") + 1
    raise InputError(f"line {line} is not iCalendar; skipped" if stripped else "empty; skipped")


def _load(cursor: str | None) -> dict[str, list[Any]] | None:
    """The cursor's entries, [signature, uids, next_start] each, checked for shape."""
    if not cursor:
        return None
    try:
        data = json.loads(cursor)
        if data.get("v") != CURSOR_VERSION:
            return None
        items = data["items"]
        for entry in items.values():
            sig, uids, nxt = entry
            if not isinstance(sig, str) or not isinstance(uids, list) or not (
                    nxt is None or isinstance(nxt, int | float)) or not all(
                    isinstance(u, str) for u in uids):
                raise TypeError("cursor entry")
        return dict(items)
    except (ValueError, TypeError, KeyError, AttributeError):
        log.warning("calendar.cursor_unreadable")
        return None


def _dump(seen: dict[str, list[Any]]) -> str:
    return json.dumps(
        {"v": CURSOR_VERSION, "items": dict(sorted(seen.items()))},
        separators=(",", ":"), ensure_ascii=False,
    )



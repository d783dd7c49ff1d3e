"""Meetings from calendar files: a vdir, a single .ics file, or an .ics URL.

The cursor is a JSON fingerprint of the items seen: name -> signature, UIDs, and the start of
the next occurrence beyond the window. An unchanged item is not read again, unless one of its
occurrences is about to enter the window (a weekly series, an event next month). A changed
item's old UIDs are removed and its new content upserted; a deleted item's UIDs are removed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import tzinfo

import structlog

from followup.errors import InputError
from followup.ical import parse_calendar
from followup.model import CalendarChanges, Interval, Meeting, OccurrenceRef
from followup.providers.local.locations import Item, Location

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

    def __init__(self, location: Location, default_tz: tzinfo) -> None:
        self.location = location
        self.default_tz = default_tz
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

        now_seen: dict[str, Seen] = {}
        upserts: list[Meeting] = []
        errors: list[str] = []
        gone_uids: set[str] = set()
        kept_uids: set[str] = set()  # UIDs of items not read this pass: still current
        horizon = window.end.timestamp()
        for item in items:
            old = seen_before.get(item.name)
            unchanged = old is not None and old.signature == item.signature
            if unchanged and old is not None and not (
                old.next_start is not None and old.next_start < horizon
            ):
                now_seen[item.name] = old
                kept_uids.update(old.uids)
                continue
            entry = self._read(item, window, upserts, errors)
            if entry is None:
                if old is not None:  # unreadable now: keep what it held until it changes
                    now_seen[item.name] = Seen(item.signature, old.uids, None)
                    kept_uids.update(old.uids)
                continue
            if old is not None and not unchanged:
                gone_uids.update(old.uids)
            now_seen[item.name] = entry

        for name, old in seen_before.items():
            if name not in now_seen:
                gone_uids.update(old.uids)
        removed = [OccurrenceRef(uid) for uid in sorted(gone_uids - kept_uids)]
        return CalendarChanges(
            upserts=upserts, removed=removed, cursor=_dump(now_seen), full=full, errors=errors
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
        parsed = parse_calendar(
            data, source=f"calendar:{what}", window=window, default_tz=self.default_tz,
            look_ahead=True,
        )
        errors.extend(parsed.errors)
        if parsed.errors and not parsed.uids:
            log.warning("calendar.file_skipped", source=self.name, file=what,
                        reason=parsed.errors[0])
            return None
        upserts.extend(parsed.meetings)
        nxt = parsed.next_start.timestamp() if parsed.next_start else None
        return Seen(item.signature, sorted(parsed.uids), nxt)


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


def _load(cursor: str | None) -> dict[str, Seen] | None:
    if not cursor:
        return None
    try:
        data = json.loads(cursor)
        if data.get("v") != CURSOR_VERSION:
            return None
        return {
            name: Seen(str(sig), [str(u) for u in uids], None if nxt is None else float(nxt))
            for name, (sig, uids, nxt) in data["items"].items()
        }
    except (ValueError, TypeError, KeyError, AttributeError):
        log.warning("calendar.cursor_unreadable")
        return None


def _dump(seen: dict[str, Seen]) -> str:
    return json.dumps(
        {"v": CURSOR_VERSION, "items": {k: v.dump() for k, v in sorted(seen.items())}},
        separators=(",", ":"), ensure_ascii=False,
    )



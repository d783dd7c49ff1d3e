"""Meetings from calendar files: a vdir, a single .ics file, or an .ics URL.

The cursor is a JSON fingerprint of the items seen: name -> signature, UIDs, and the start of
the next occurrence beyond the window. An unchanged item is not read again, unless one of its
occurrences is about to enter the window (a weekly series, an event next month). A changed
item's old UIDs are removed and its new content upserted; a deleted item's UIDs are removed.
When nothing changed, the cursor handed back is the one given (nothing to store).

A file is parsed over a window wide enough for free/busy too, and its meetings left in the
account's ParseCache, so free/busy does not parse it again; a file whose events all lie far
from the window is only skimmed (parsecache.skim). A pass that has many files to parse (a
first sync of a big calendar) parses them in worker processes, one per core.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, NoReturn

import structlog

from followup.errors import InputError
from followup.model import CalendarChanges, Interval, Meeting, OccurrenceRef
from followup.providers.local.locations import Item, Location
from followup.providers.local.parsecache import ParseCache, Parsed, Skim, skim, wide_window

if TYPE_CHECKING:
    from followup.ical.parse import ParsedCalendar

log = structlog.get_logger(__name__)

CURSOR_VERSION = 1
# Worker processes pay from this many files to parse on (each worker's start costs a fraction
# of a second of imports); at most this many workers.
POOL_MIN_PARSES = 400
POOL_MAX_WORKERS = 4

# What the pass before the sync found for a file: skimmed, or parsed (and over the wide
# window or not) in a worker.
_Ahead = Skim | tuple["ParsedCalendar", bool]


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
        self._ahead: dict[str, tuple[str, _Ahead]] = {}  # name -> (signature, what was found)

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
        self._ahead = self._parse_ahead(
            [i for i in items if not _current(seen_before.get(i.name), i.signature, horizon)],
            window)
        for item in items:
            old = seen_before.get(item.name)
            unchanged = old is not None and old[0] == item.signature
            if unchanged and old is not None and _current(old, item.signature, horizon):
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
        what = self._what(item)
        wide = wide_window(window) if self.cache is not None else window
        found = self._ahead.pop(item.name, None)
        ahead = found[1] if found is not None and found[0] == item.signature else None
        data = b""
        if ahead is None:
            try:
                read = item.read()
                if read is not None:
                    check_icalendar(read)
            except InputError as e:
                errors.append(f"calendar:{what}: {e}")
                log.warning("calendar.file_skipped", source=self.name, file=what,
                            reason=str(e))
                return None
            if read is None:
                return None
            data = read
            ahead = skim(data, wide)
        if isinstance(ahead, Skim):
            if self.cache is not None:
                self.cache.put(self.location.label, item.name, Parsed(item.signature, wide, ()))
            nxt = ahead.next_start.timestamp() if ahead.next_start else None
            return Seen(item.signature, sorted(ahead.uids), nxt)
        if ahead is not None:  # parsed in a worker
            parsed = self._keep(item, window, wide, *ahead)
            _log_parse(self.name, parsed)
        else:
            parsed = self._parse(data, what, item, window, wide)
        errors.extend(parsed.errors)
        if parsed.errors and not parsed.uids:
            log.warning("calendar.file_skipped", source=self.name, file=what,
                        reason=parsed.errors[0])
            return None
        upserts.extend(parsed.meetings)
        nxt = parsed.next_start.timestamp() if parsed.next_start else None
        return Seen(item.signature, sorted(parsed.uids), nxt)

    def _what(self, item: Item) -> str:
        return f"{self.location.label}/{item.name}" if item.name != self.location.label else (
            item.name)

    def _parse(self, data: bytes, what: str, item: Item, window: Interval,
               wide: Interval) -> ParsedCalendar:
        """The file's meetings in `window`, parsed over `wide` and left in the cache for
        free/busy (parse_wide)."""
        parsed, used_wide = parse_wide(data, f"calendar:{what}", window, wide, self.default_tz)
        return self._keep(item, window, wide, parsed, used_wide)

    def _keep(self, item: Item, window: Interval, wide: Interval, parsed: ParsedCalendar,
              used_wide: bool) -> ParsedCalendar:
        if not used_wide:
            return parsed
        assert self.cache is not None
        self.cache.put(self.location.label, item.name,
                       Parsed(item.signature, wide, tuple(parsed.meetings)))
        return _within(parsed, window)

    def _parse_ahead(self, items: list[Item], window: Interval) -> dict[str, tuple[str, _Ahead]]:
        """For a pass with many files to parse: skim them all here and parse the rest in
        worker processes, one per core. {} for a small pass, or when no worker can start
        (the pass then parses in this process, as for a small one)."""
        cores = os.cpu_count() or 1
        if self.cache is None or len(items) < POOL_MIN_PARSES or cores < 2:
            return {}
        wide = wide_window(window)
        found: dict[str, tuple[str, _Ahead]] = {}
        jobs: list[tuple[bytes, str, Interval, Interval, tzinfo]] = []
        names: list[tuple[str, str]] = []
        for item in items:
            try:
                data = item.read()
                if data is None:
                    continue
                check_icalendar(data)
            except InputError:
                continue  # read again by _read, which reports why it cannot be used
            skimmed = skim(data, wide)
            if skimmed is not None:
                found[item.name] = (item.signature, skimmed)
                continue
            jobs.append((data, f"calendar:{self._what(item)}", window, wide, self.default_tz))
            names.append((item.name, item.signature))
        if len(jobs) < POOL_MIN_PARSES:
            return found
        try:
            results = _in_workers(jobs, min(cores, POOL_MAX_WORKERS))
        except (OSError, RuntimeError) as e:  # no process may start (a sandbox, a limit)
            log.warning("calendar.workers_unavailable", source=self.name,
                        reason=type(e).__name__)
            return found
        log.info("calendar.parsed_in_workers", source=self.name, files=len(jobs))
        for (name, signature), result in zip(names, results, strict=True):
            found[name] = (signature, result)
        return found


def _current(old: list[Any] | None, signature: str, horizon: float) -> bool:
    """Whether a cursor entry still stands: same file, no occurrence about to enter."""
    return old is not None and old[0] == signature and not (
        old[2] is not None and old[2] < horizon)


def parse_wide(data: bytes, source: str, window: Interval, wide: Interval,
               default_tz: tzinfo) -> tuple[ParsedCalendar, bool]:
    """The file parsed over `wide` (True), or over `window` alone (False) when `wide` is the
    window or the wide reading hit a cap (a capped series reads differently over the two)."""
    from followup.ical.parse import TOO_MANY

    if wide != window:
        parsed = parse_calendar(data, source=source, window=wide, default_tz=default_tz,
                                look_ahead=True)
        if not any(s.code == TOO_MANY for s in parsed.skipped):
            return parsed, True
    return parse_calendar(data, source=source, window=window, default_tz=default_tz,
                          look_ahead=True), False


def _parse_job(job: tuple[bytes, str, Interval, Interval, tzinfo]
               ) -> tuple[ParsedCalendar, bool]:
    return parse_wide(*job)


def _quiet_worker() -> None:
    """A worker logs nothing itself: the parent logs what each parse reports (_log_parse)."""
    structlog.configure(processors=[_drop])


def _drop(*_: object) -> NoReturn:
    raise structlog.DropEvent


def _in_workers(jobs: list[tuple[bytes, str, Interval, Interval, tzinfo]],
                workers: int) -> list[tuple[ParsedCalendar, bool]]:
    """parse_wide over every job in `workers` processes, in order. Started with `spawn` (no
    copy of this process's threads and locks); the stop check (SIGTERM, and systemd's
    watchdog behind it) is asked between results, as the parser asks it between events."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from followup.ical import parse as ical

    tick = ical._Ticker(ical._STOP_CHECK.get())
    chunk = max(1, min(64, len(jobs) // (workers * 8)))
    results: list[tuple[ParsedCalendar, bool]] = []
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_quiet_worker) as pool:
        try:
            for result in pool.map(_parse_job, jobs, chunksize=chunk):
                tick()
                results.append(result)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return results


def _log_parse(source: str, parsed: ParsedCalendar) -> None:
    """The parser's own log lines for a file parsed in a worker (its reasons name the file
    and the event, never their content)."""
    from followup.ical.parse import UNREADABLE

    for s in parsed.skipped:
        if s.code == UNREADABLE:
            log.warning("ical.skipped", source=source, item=s.event, reason=s.reason)
        else:
            log.info("ical.not_a_meeting", source=source, item=s.event, code=s.code,
                     reason=s.reason)
    for note in parsed.notes:
        log.info("ical.repaired", source=source, repair=note)


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
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 (Windows Calendar exports)
        head = head.decode("utf-16", errors="replace").encode("utf-8")
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



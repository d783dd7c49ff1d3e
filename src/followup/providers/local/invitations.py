"""Meetings from invitation mails in Maildir folders.

The cursor remembers which messages were read: a watermark (kernel ctime) below which every
message has been seen, and the unique names above it, so the cursor stays small however big
the folder. It also keeps, for occurrences still in the window, the version (SEQUENCE,
DTSTAMP) of the copy reported, so an older mail read later never overrides a newer one and a
rescheduled single event does not leave its old time behind, and whether the organiser
sent it, so a copy from anyone else never replaces one the organiser sent.

A message that cannot be used (a symlink out of the folder, a loop, one we may not read,
one over MAX_MAIL_BYTES) is skipped with its reason and counted as read; the folder goes on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

import structlog

from followup.errors import InputError
from followup.ical import Version, parse_invitation_mail, supersedes
from followup.model import CalendarChanges, Interval, Meeting, OccurrenceRef
from followup.providers.local.files import MAX_MAIL_BYTES, read_limited
from followup.providers.local.maildir import Entry, folder_path, is_maildir, list_messages

log = structlog.get_logger(__name__)

CURSOR_VERSION = 1
# Messages delivered this close below the newest one are remembered by name, not by the
# watermark: clocks and renames are not perfectly ordered.
MARGIN_NS = 2 * 24 * 3600 * 10**9
# A cheap look at the raw bytes before any MIME parsing: most mail holds no calendar.
_MAY_HOLD_CALENDAR = re.compile(
    rb"text/calendar|application/ics|BEGIN:VCALENDAR|\.ics\b|\.vcs\b", re.IGNORECASE
)


@dataclass
class _Held:
    version: Version
    series: bool
    trusted: bool = True  # sent by the organiser

    def dump(self) -> list[object]:
        v = self.version
        return [v.sequence, v.stamp.isoformat() if v.stamp else None, v.explicit, v.cancelled,
                self.series, self.trusted]

    @classmethod
    def load(cls, raw: list[object]) -> _Held:
        seq, stamp, explicit, cancelled, series, *rest = raw
        return cls(
            Version(int(str(seq)), datetime.fromisoformat(str(stamp)) if stamp else None,
                    bool(explicit), bool(cancelled)),
            bool(series),
            bool(rest[0]) if rest else True,
        )

    def yields_to(self, version: Version, trusted: bool) -> bool:
        """Whether a copy (`version`, sent by the organiser or not) supersedes this one."""
        return supersedes(version, trusted, self.version, self.trusted)


@dataclass
class _State:
    mark: int = 0
    seen: set[str] = field(default_factory=set)
    book: dict[str, dict[str, _Held]] = field(default_factory=dict)  # uid -> occurrence -> held


class InvitationSource:
    """A MeetingSource over one Maildir folder of invitation mails."""

    def __init__(self, root: Path, folder: str, default_tz: tzinfo,
                 user_addresses: Collection[str] = ()) -> None:
        self.root = root
        self.folder = folder_path(root, folder)
        self.default_tz = default_tz
        self.user_addresses = tuple(user_addresses)
        self._name = f"mail:{folder or 'INBOX'}"

    @property
    def name(self) -> str:
        return self._name

    def changes(self, cursor: str | None, window: Interval) -> CalendarChanges:
        if not is_maildir(self.folder):
            # A misspelled folder is not an empty one: say so every cycle.
            what = "Maildir" if self.folder == self.root else "Maildir folder"
            raise InputError(f"{what} {self.folder} does not exist or is not a Maildir "
                             "(check `maildir` and `invitations_folders`)")
        state = _load(cursor)
        full = state is None
        state = state or _State()
        entries = list_messages(self.folder)
        fresh = sorted(
            (e for e in entries if e.ctime_ns >= state.mark and e.key not in state.seen),
            key=lambda e: (e.ctime_ns, e.key),
        )
        upserts: dict[tuple[str, datetime], Meeting] = {}
        removed: list[OccurrenceRef] = []
        errors: list[str] = []
        unread: list[Entry] = []
        for entry in fresh:
            try:
                raw = _read(entry)
            except InputError as e:
                errors.append(f"{self.name}/{entry.key}: {e}")
                log.warning("invitations.message_skipped", source=self.name, file=entry.key,
                            reason=str(e))
                continue
            if raw is None:
                unread.append(entry)
                continue
            if not _MAY_HOLD_CALENDAR.search(raw):
                continue
            parsed = parse_invitation_mail(
                raw, source=f"{self.name}/{entry.key}", window=window,
                default_tz=self.default_tz, user_addresses=self.user_addresses,
            )
            errors.extend(parsed.errors)
            for meeting in parsed.meetings:
                key = (meeting.uid, meeting.occurrence)
                _offer(state, meeting, parsed.versions[key], key in parsed.from_organizer,
                       upserts, removed)

        _prune(state, window)
        newest = max((e.ctime_ns for e in entries), default=state.mark + MARGIN_NS)
        mark = newest - MARGIN_NS
        if unread:  # read them again next time
            mark = min(mark, min(e.ctime_ns for e in unread))
        state.mark = max(mark, 0)
        failed = {e.key for e in unread}
        state.seen = {e.key for e in entries if e.ctime_ns >= state.mark and e.key not in failed}
        return CalendarChanges(
            upserts=list(upserts.values()), removed=removed, cursor=_dump(state), full=full,
            errors=errors,
        )


def _read(entry: Entry) -> bytes | None:
    """The message's bytes; None when a client moved it between listing and reading (new/
    -> cur/); InputError when it cannot be used. The size is checked before reading."""
    if entry.problem:
        raise InputError(entry.problem)
    if entry.size > MAX_MAIL_BYTES:
        raise InputError(f"{entry.size / 2**20:.1f} MB, over the "
                         f"{MAX_MAIL_BYTES // 2**20} MB limit; skipped")
    return read_limited(entry.path, MAX_MAIL_BYTES)


def _offer(
    state: _State,
    meeting: Meeting,
    version: Version,
    trusted: bool,
    upserts: dict[tuple[str, datetime], Meeting],
    removed: list[OccurrenceRef],
) -> None:
    """Report `meeting` unless a newer copy of it was already reported."""
    held_for_uid = state.book.setdefault(meeting.uid, {})
    occ_key = _utc_key(meeting.occurrence)
    held = held_for_uid.get(occ_key)
    if held is not None and not held.yields_to(version, trusted):
        return
    if not meeting.is_recurring:
        # A single event moved: the copy at its old time is superseded, or supersedes us.
        for other_key, other in list(held_for_uid.items()):
            if other_key == occ_key or other.series:
                continue
            if not other.yields_to(version, trusted):
                return
            del held_for_uid[other_key]
            other_occ = datetime.fromisoformat(other_key)
            upserts.pop((meeting.uid, other_occ), None)
            removed.append(OccurrenceRef(meeting.uid, other_occ))
    held_for_uid[occ_key] = _Held(version, meeting.is_recurring, trusted)
    upserts[(meeting.uid, meeting.occurrence)] = meeting


def _utc_key(when: datetime) -> str:
    return when.astimezone(UTC).isoformat()


def _prune(state: _State, window: Interval) -> None:
    """Forget versions of occurrences long past: the cursor only needs the live window."""
    horizon = window.start - timedelta(days=1)
    for uid in list(state.book):
        occs = state.book[uid]
        for key in [k for k in occs if datetime.fromisoformat(k) < horizon]:
            del occs[key]
        if not occs:
            del state.book[uid]


def _load(cursor: str | None) -> _State | None:
    if not cursor:
        return None
    try:
        data = json.loads(cursor)
        if data.get("v") != CURSOR_VERSION:
            return None
        return _State(
            mark=int(data["mark"]),
            seen={str(k) for k in data["seen"]},
            book={
                uid: {occ: _Held.load(h) for occ, h in occs.items()}
                for uid, occs in data["book"].items()
            },
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        log.warning("invitations.cursor_unreadable")
        return None


def _dump(state: _State) -> str:
    return json.dumps(
        {
            "v": CURSOR_VERSION,
            "mark": state.mark,
            "seen": sorted(state.seen),
            "book": {
                uid: {occ: h.dump() for occ, h in sorted(occs.items())}
                for uid, occs in sorted(state.book.items())
            },
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )

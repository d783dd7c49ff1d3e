"""An in-memory twin of a provider, for engine tests and the provider contract suite.

It implements every protocol (MeetingSource, Availability, MailHistory and the three Targets)
with the semantics a real provider must have:

- the idempotency key travels with every object it writes (a contact's note, a draft's
  Message-ID header, a block's event id), so `ensure(..., recovering=True)` finds it again;
- like Gmail, a draft is created blindly unless the caller asks to recover: only the recovering
  lookup prevents a second copy, so an engine that forgets `recovering` is caught;
- like Google Calendar, a block's id is its key: a second create is a conflict (EXISTED), and a
  block the user deleted stays as a cancelled tombstone (DISMISSED, never recreated);
- contacts are matched by email: an existing card gains our note (ANNOTATED) and undo strips
  exactly that note.

The user's side is simulated by `add_contact`, `edit`, `delete`, `send_draft`, `add_mail`,
`add_meeting`, `remove_meeting`; faults by a `Faults` plan (raise before a call, or apply the
call and then raise, as when a response is lost). `calls` counts every provider call.
"""

from __future__ import annotations

import fnmatch
import hashlib
import random
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TypeVar

from followup.errors import TransientError
from followup.model import (
    Attendee,
    BlockPayload,
    CalendarChanges,
    Card,
    ContactPayload,
    DraftPayload,
    Interaction,
    Interval,
    Meeting,
    MeetingStatus,
    OccurrenceRef,
    PartStat,
    RemoteState,
    RemoveOutcome,
    WriteKind,
    WriteOutcome,
    WriteResult,
)
from followup.protocols import Account

T = TypeVar("T")

WRITE_CALLS = ("contacts.ensure", "drafts.ensure", "blocks.ensure")
TARGET_CALLS = tuple(
    f"{target}.{op}"
    for target in ("contacts", "drafts", "blocks")
    for op in ("ensure", "state", "remove")
)


# --- Fault injection -------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """What goes wrong on one call: `error` is raised before the call has any effect, or with
    `lost_response` after it took effect (the server did it, the answer never arrived)."""

    error: Exception
    lost_response: bool = False


class Faults:
    """A plan of failures: fixed ones (the n-th call of a name) and seeded random ones."""

    def __init__(self) -> None:
        self._fixed: dict[tuple[str, int], Fault] = {}
        self._rate = 0.0
        self._rng = random.Random(0)  # noqa: S311 - reproducible test faults, not security
        self._patterns: tuple[str, ...] = ()
        self._lost_share = 0.0

    def on(
        self,
        call: str,
        nth: int = 1,
        *,
        error: Exception | None = None,
        lost_response: bool = False,
    ) -> Faults:
        """Fail the `nth` call (counting from 1) of `call`, e.g. "drafts.ensure"."""
        self._fixed[(call, nth)] = Fault(error or TransientError(f"injected: {call} #{nth}"),
                                         lost_response)
        return self

    def at_random(
        self,
        rate: float,
        *,
        seed: int,
        calls: Collection[str] = TARGET_CALLS,
        lost_share: float = 0.5,
    ) -> Faults:
        """Fail a `rate` share of the calls matching `calls` (fnmatch patterns) with a
        TransientError; `lost_share` of those failures happen after the call took effect."""
        self._rate = rate
        self._rng = random.Random(seed)  # noqa: S311 - reproducible test faults, not security
        self._patterns = tuple(calls)
        self._lost_share = lost_share
        return self

    def clear(self) -> None:
        self._fixed.clear()
        self._rate = 0.0

    def pick(self, call: str, nth: int) -> Fault | None:
        fixed = self._fixed.pop((call, nth), None)
        if fixed is not None:
            return fixed
        matches = any(fnmatch.fnmatchcase(call, p) for p in self._patterns)
        if self._rate and matches and self._rng.random() < self._rate:
            lost = self._rng.random() < self._lost_share
            return Fault(TransientError(f"injected: {call} #{nth}"), lost)
        return None


# --- Stored objects --------------------------------------------------------------------------


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()[:16]


@dataclass
class StoredNote:
    text: str
    key: str | None = None  # ours when set (a vCard X-property / clientData in real providers)


@dataclass
class StoredContact:
    remote_id: str
    email: str
    display_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    organization: str | None = None
    notes: list[StoredNote] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    created_key: str | None = None  # the key of the write that created the card, if we did

    def fingerprint(self, key: str) -> str:
        """The card as the write `key` left it: our other notes (added later, removed first
        on undo) are not the user's edits, so they do not count."""
        return _fingerprint(
            self.email, self.display_name, self.given_name, self.family_name, self.organization,
            [(n.text, n.key) for n in self.notes if n.key in (None, key)], self.groups,
        )

    def note(self, key: str) -> StoredNote | None:
        return next((n for n in self.notes if n.key == key), None)


@dataclass
class StoredDraft:
    remote_id: str
    key: str  # carried by the Message-ID header
    message_id: str
    to: tuple[tuple[str | None, str], ...]
    subject: str
    body: str

    def fingerprint(self) -> str:
        return _fingerprint(self.message_id, self.to, self.subject, self.body)


@dataclass
class StoredBlock:
    remote_id: str  # == key, like a client-chosen Google event id
    summary: str
    description: str
    start: datetime
    end: datetime
    cancelled: bool = False  # the user deleted it: Google keeps a cancelled tombstone

    def fingerprint(self) -> str:
        return _fingerprint(self.summary, self.description, self.start, self.end)

    @property
    def key(self) -> str:
        return self.remote_id


# --- The provider ----------------------------------------------------------------------------


class MemoryProvider:
    """One account's worth of calendars, mail, address book, drafts and blocks, in memory."""

    def __init__(
        self,
        name: str = "memory",
        *,
        self_addresses: Sequence[str] = (),
        faults: Faults | None = None,
    ) -> None:
        self.name = name
        self.self_addresses = tuple(a.lower() for a in self_addresses)
        self.faults = faults or Faults()
        self.calls: Counter[str] = Counter()
        self.calendar = MemorySource(self, f"{name}:calendar")
        self.extra_busy: list[Interval] = []
        self.mail: list[Interaction] = []
        self.contacts: dict[str, StoredContact] = {}
        self.drafts: dict[str, StoredDraft] = {}
        self.blocks: dict[str, StoredBlock] = {}
        self._ids = 0
        self.availability = MemoryAvailability(self)
        self.mail_history = MemoryMailHistory(self)
        self.contact_target = MemoryContacts(self)
        self.draft_target = MemoryDrafts(self)
        self.block_target = MemoryBlocks(self)

    def account(self, name: str | None = None) -> Account:
        return Account(
            name=name or self.name,
            kind="memory",
            sources=[self.calendar],
            availability=self.availability,
            mail=self.mail_history,
            contacts=self.contact_target,
            drafts=self.draft_target,
            blocks=self.block_target,
            self_addresses=self.self_addresses,
            where_drafts_are="your Drafts folder",
            address_book=self,
            draft_link=lambda key, remote_id, message_id: (
                f"memory://drafts/{remote_id} {message_id}" if remote_id else None),
        )

    def lookup(self, emails: Sequence[str]) -> dict[str, Card]:
        """The AddressBook protocol: the user's own cards (not those followup created)."""
        self.calls["address_book.lookup"] += 1
        wanted = {e.lower() for e in emails}
        return {
            c.email: Card(c.email, c.display_name, c.given_name)
            for c in self.contacts.values()
            if c.email in wanted and c.created_key is None
        }

    # -- plumbing ----------------------------------------------------------------------------

    def call(self, name: str, action: Callable[[], T]) -> T:
        """Count a provider call and apply the fault plan around it."""
        self.calls[name] += 1
        fault = self.faults.pick(name, self.calls[name])
        if fault is not None and not fault.lost_response:
            raise fault.error
        result = action()
        if fault is not None:
            raise fault.error
        return result

    def new_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}-{self._ids}"

    # -- the user's side ---------------------------------------------------------------------

    def add_meeting(self, meeting: Meeting) -> None:
        self.calendar.put(meeting)

    def remove_meeting(self, uid: str, occurrence: datetime | None = None) -> None:
        self.calendar.drop(uid, occurrence)

    def add_mail(self, email: str, at: datetime, direction: str = "received") -> None:
        self.mail.append(Interaction(email.lower(), at, direction))

    def add_contact(self, email: str, name: str | None = None, note: str | None = None,
                    *, given_name: str | None = None) -> str:
        """A card the user already had, with their own note if given."""
        rid = self.new_id("contact")
        notes = [StoredNote(note)] if note else []
        self.contacts[rid] = StoredContact(rid, email.lower(), display_name=name, notes=notes,
                                           given_name=given_name)
        return rid

    def edit(self, kind: WriteKind, remote_id: str) -> None:
        """The user changes an object we wrote."""
        if kind is WriteKind.CONTACT:
            self.contacts[remote_id].organization = "Edited by the user"
        elif kind is WriteKind.DRAFT:
            self.drafts[remote_id].body += "\nA line the user wrote."
        else:
            self.blocks[remote_id].summary += " (moved)"

    def delete(self, kind: WriteKind, remote_id: str) -> None:
        """The user deletes an object; a deleted block stays behind as a cancelled tombstone."""
        if kind is WriteKind.CONTACT:
            del self.contacts[remote_id]
        elif kind is WriteKind.DRAFT:
            del self.drafts[remote_id]
        else:
            self.blocks[remote_id].cancelled = True

    def send_draft(self, remote_id: str, at: datetime) -> None:
        """The user presses send: the draft leaves the Drafts folder and shows as sent mail."""
        draft = self.drafts.pop(remote_id)
        for _, addr in draft.to:
            self.add_mail(addr, at, "sent")

    def contacts_for(self, email: str) -> list[StoredContact]:
        return [c for c in self.contacts.values() if c.email == email.lower()]

    def drafts_to(self, email: str) -> list[StoredDraft]:
        return [d for d in self.drafts.values() if any(a == email.lower() for _, a in d.to)]

    def live_blocks(self) -> list[StoredBlock]:
        return [b for b in self.blocks.values() if not b.cancelled]

    def snapshot(self) -> dict[str, object]:
        """What the user can see in their address book, Drafts folder and calendar."""
        return {
            "contacts": sorted(
                (c.email, c.display_name, c.organization, tuple(n.text for n in c.notes))
                for c in self.contacts.values()
            ),
            "drafts": sorted((d.subject, d.body, d.to) for d in self.drafts.values()),
            "blocks": sorted((b.start, b.summary) for b in self.live_blocks()),
        }


class MemorySource:
    """A calendar that keeps a change log, so a cursor can name a point in it."""

    def __init__(self, provider: MemoryProvider, name: str) -> None:
        self._p = provider
        self._name = name
        self._meetings: dict[tuple[str, datetime], Meeting] = {}
        self._log: list[tuple[str, datetime | None, bool]] = []  # (uid, occurrence, removed)
        self._epoch = 0  # bumped by expire_cursors(): older cursors are stale (Google 410)

    @property
    def name(self) -> str:
        return self._name

    def put(self, meeting: Meeting) -> None:
        m = replace(meeting, source=self._name)
        self._meetings[(m.uid, m.occurrence)] = m
        self._log.append((m.uid, m.occurrence, False))

    def drop(self, uid: str, occurrence: datetime | None) -> None:
        for k in [k for k in self._meetings if k[0] == uid and occurrence in (None, k[1])]:
            del self._meetings[k]
        self._log.append((uid, occurrence, True))

    def expire_cursors(self) -> None:
        self._epoch += 1

    def meetings(self) -> list[Meeting]:
        return list(self._meetings.values())

    def changes(self, cursor: str | None, window: Interval) -> CalendarChanges:
        return self._p.call("source.changes", lambda: self._changes(cursor, window))

    def _cursor(self) -> str:
        return f"{self._epoch}:{len(self._log)}"

    def _changes(self, cursor: str | None, window: Interval) -> CalendarChanges:
        def in_window(m: Meeting) -> bool:
            return Interval(m.start, m.end).overlaps(window)

        since = self._parse(cursor)
        if since is None:
            return CalendarChanges(
                upserts=[m for m in self._meetings.values() if in_window(m)],
                cursor=self._cursor(),
                full=cursor is not None,  # a stale cursor: start over, say so
            )
        out = CalendarChanges(cursor=self._cursor())
        touched: dict[tuple[str, datetime | None], bool] = {}
        for uid, occ, removed in self._log[since:]:
            touched[(uid, occ)] = removed
        for (uid, occ), removed in touched.items():
            if removed:
                out.removed.append(OccurrenceRef(uid, occ))
                continue
            assert occ is not None
            current = self._meetings.get((uid, occ))
            if current is not None and in_window(current):
                out.upserts.append(current)
        return out

    def _parse(self, cursor: str | None) -> int | None:
        if cursor is None:
            return None
        epoch, _, pos = cursor.partition(":")
        if epoch != str(self._epoch) or not pos.isdigit() or int(pos) > len(self._log):
            return None
        return int(pos)


class MemoryAvailability:
    def __init__(self, provider: MemoryProvider) -> None:
        self._p = provider

    def busy(self, window: Interval) -> list[Interval]:
        return self._p.call("availability.busy", lambda: self._busy(window))

    def _busy(self, window: Interval) -> list[Interval]:
        p = self._p
        spans = [Interval(m.start, m.end) for m in p.calendar.meetings() if _blocks_time(m, p)]
        spans += p.extra_busy
        spans += [Interval(b.start, b.end) for b in p.live_blocks()]
        return sorted((s for s in spans if s.overlaps(window)), key=lambda s: s.start)


def _blocks_time(m: Meeting, p: MemoryProvider) -> bool:
    if m.transparent or m.status is MeetingStatus.CANCELLED:
        return False
    me: Attendee | None = next(
        (a for a in m.attendees if a.is_self or a.email in p.self_addresses), None
    )
    return me is None or me.partstat is not PartStat.DECLINED


class MemoryMailHistory:
    def __init__(self, provider: MemoryProvider) -> None:
        self._p = provider

    def last_interactions(
        self, emails: Sequence[str], since: datetime
    ) -> dict[str, Interaction]:
        return self._p.call("mail.last_interactions", lambda: self._last(emails, since))

    def _last(self, emails: Sequence[str], since: datetime) -> dict[str, Interaction]:
        wanted = {e.lower() for e in emails}
        out: dict[str, Interaction] = {}
        for msg in self._p.mail:
            if msg.email in wanted and msg.at >= since:
                best = out.get(msg.email)
                if best is None or msg.at > best.at:
                    out[msg.email] = msg
        return out


def _contact_print(card: StoredContact, key: str) -> str:
    """A card we created is ours as a whole; on a card we annotated only our note is."""
    if card.created_key == key:
        return card.fingerprint(key)
    note = card.note(key)
    return _fingerprint(note.text if note else None)


class MemoryContacts:
    def __init__(self, provider: MemoryProvider) -> None:
        self._p = provider

    def ensure(self, key: str, payload: ContactPayload, *, recovering: bool) -> WriteResult:
        return self._p.call("contacts.ensure", lambda: self._ensure(key, payload))

    def _ensure(self, key: str, payload: ContactPayload) -> WriteResult:
        # A real provider searches by email before creating anyway (to annotate instead of
        # duplicating), so the key is found whether or not we are recovering.
        for c in self._p.contacts.values():
            note = c.note(key)
            if note is not None:
                return WriteResult(WriteOutcome.EXISTED, c.remote_id, _contact_print(c, key))
        existing = self._p.contacts_for(payload.email)
        if existing:
            card = existing[0]
            card.notes.append(StoredNote(payload.note, key))
            return WriteResult(WriteOutcome.ANNOTATED, card.remote_id, _fingerprint(payload.note))
        rid = self._p.new_id("contact")
        card = StoredContact(
            rid, payload.email.lower(), payload.display_name, payload.given_name,
            payload.family_name, payload.organization, [StoredNote(payload.note, key)],
            [payload.group], created_key=key,
        )
        self._p.contacts[rid] = card
        return WriteResult(WriteOutcome.CREATED, rid, card.fingerprint(key))

    def _find(self, key: str, remote_id: str | None) -> StoredContact | None:
        card = self._p.contacts.get(remote_id or "")
        if card is not None and card.note(key) is not None:
            return card
        return next((c for c in self._p.contacts.values() if c.note(key) is not None), None)

    def state(self, key: str, remote_id: str | None, fingerprint: str | None) -> RemoteState:
        return self._p.call("contacts.state", lambda: self._state(key, remote_id, fingerprint))

    def _state(self, key: str, remote_id: str | None, fingerprint: str | None) -> RemoteState:
        card = self._find(key, remote_id)
        if card is None:
            return RemoteState.MISSING
        same = _contact_print(card, key) == fingerprint
        return RemoteState.PRESENT if same else RemoteState.EDITED

    def remove(self, key: str, remote_id: str | None, fingerprint: str | None) -> RemoveOutcome:
        return self._p.call("contacts.remove", lambda: self._remove(key, remote_id, fingerprint))

    def _remove(self, key: str, remote_id: str | None, fingerprint: str | None) -> RemoveOutcome:
        card = self._find(key, remote_id)
        if card is None:
            return RemoveOutcome.GONE
        if self._state(key, remote_id, fingerprint) is RemoteState.EDITED:
            return RemoveOutcome.KEPT
        if card.created_key == key:
            del self._p.contacts[card.remote_id]
        else:
            card.notes = [n for n in card.notes if n.key != key]
        return RemoveOutcome.REMOVED


class MemoryDrafts:
    def __init__(self, provider: MemoryProvider) -> None:
        self._p = provider

    def ensure(self, key: str, payload: DraftPayload, *, recovering: bool) -> WriteResult:
        return self._p.call("drafts.ensure", lambda: self._ensure(key, payload, recovering))

    def _ensure(self, key: str, payload: DraftPayload, recovering: bool) -> WriteResult:
        if recovering:  # like Gmail: search rfc822msgid before writing again
            found = self._find(key, None)
            if found is not None:
                return WriteResult(WriteOutcome.EXISTED, found.remote_id, found.fingerprint())
        rid = self._p.new_id("draft")
        draft = StoredDraft(rid, key, payload.message_id, payload.to, payload.subject,
                            payload.body)
        self._p.drafts[rid] = draft
        return WriteResult(WriteOutcome.CREATED, rid, draft.fingerprint())

    def _find(self, key: str, remote_id: str | None) -> StoredDraft | None:
        draft = self._p.drafts.get(remote_id or "")
        if draft is not None and draft.key == key:
            return draft
        return next((d for d in self._p.drafts.values() if d.key == key), None)

    def state(self, key: str, remote_id: str | None, fingerprint: str | None) -> RemoteState:
        return self._p.call("drafts.state", lambda: self._state(key, remote_id, fingerprint))

    def _state(self, key: str, remote_id: str | None, fingerprint: str | None) -> RemoteState:
        draft = self._find(key, remote_id)
        if draft is None:
            return RemoteState.MISSING
        return RemoteState.PRESENT if draft.fingerprint() == fingerprint else RemoteState.EDITED

    def remove(self, key: str, remote_id: str | None, fingerprint: str | None) -> RemoveOutcome:
        return self._p.call("drafts.remove", lambda: self._remove(key, remote_id, fingerprint))

    def _remove(self, key: str, remote_id: str | None, fingerprint: str | None) -> RemoveOutcome:
        draft = self._find(key, remote_id)
        if draft is None:
            return RemoveOutcome.GONE
        if draft.fingerprint() != fingerprint:
            return RemoveOutcome.KEPT
        del self._p.drafts[draft.remote_id]
        return RemoveOutcome.REMOVED


class MemoryBlocks:
    def __init__(self, provider: MemoryProvider) -> None:
        self._p = provider

    def ensure(self, key: str, payload: BlockPayload, *, recovering: bool) -> WriteResult:
        return self._p.call("blocks.ensure", lambda: self._ensure(key, payload))

    def _ensure(self, key: str, payload: BlockPayload) -> WriteResult:
        # The id is the key: a create that finds it taken (409) looks at what is there.
        found = self._p.blocks.get(key)
        if found is not None:
            outcome = WriteOutcome.DISMISSED if found.cancelled else WriteOutcome.EXISTED
            return WriteResult(outcome, key, found.fingerprint())
        block = StoredBlock(key, payload.summary, payload.description, payload.start, payload.end)
        self._p.blocks[key] = block
        return WriteResult(WriteOutcome.CREATED, key, block.fingerprint())

    def state(self, key: str, remote_id: str | None, fingerprint: str | None) -> RemoteState:
        return self._p.call("blocks.state", lambda: self._state(key, fingerprint))

    def _state(self, key: str, fingerprint: str | None) -> RemoteState:
        block = self._p.blocks.get(key)
        if block is None or block.cancelled:
            return RemoteState.MISSING
        return RemoteState.PRESENT if block.fingerprint() == fingerprint else RemoteState.EDITED

    def remove(self, key: str, remote_id: str | None, fingerprint: str | None) -> RemoveOutcome:
        return self._p.call("blocks.remove", lambda: self._remove(key, fingerprint))

    def _remove(self, key: str, fingerprint: str | None) -> RemoveOutcome:
        state = self._state(key, fingerprint)
        if state is RemoteState.MISSING:
            return RemoveOutcome.GONE
        if state is RemoteState.EDITED:
            return RemoveOutcome.KEPT
        del self._p.blocks[key]
        return RemoveOutcome.REMOVED

"""The core's vocabulary: meetings, people, time intervals and the writes it intends.

Everything here is plain, immutable data. Providers translate their formats into these types
and back; the core (triage, planner, composer) only ever sees these.
All datetimes are timezone-aware.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


class PartStat(StrEnum):
    """An attendee's answer (RFC 5545 PARTSTAT; Google responseStatus; Graph status.response)."""

    NEEDS_ACTION = "needs-action"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TENTATIVE = "tentative"
    DELEGATED = "delegated"


class Role(StrEnum):
    CHAIR = "chair"
    REQUIRED = "required"
    OPTIONAL = "optional"
    NON_PARTICIPANT = "non-participant"


class CUType(StrEnum):
    """What kind of calendar user an attendee is (RFC 5545 CUTYPE; Google resource; Graph type)."""

    INDIVIDUAL = "individual"
    GROUP = "group"
    RESOURCE = "resource"
    ROOM = "room"
    UNKNOWN = "unknown"


class MeetingStatus(StrEnum):
    CONFIRMED = "confirmed"
    TENTATIVE = "tentative"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Attendee:
    email: str  # lower-cased, without "mailto:"
    name: str | None = None  # display name as given by the source, unsanitised
    partstat: PartStat = PartStat.NEEDS_ACTION
    role: Role = Role.REQUIRED
    cutype: CUType = CUType.INDIVIDUAL
    is_organizer: bool = False
    is_self: bool = False  # the source says this attendee is the calendar's owner (Google "self")


# The series start a provider gives an occurrence when it cannot learn the series' real first
# start (an unreadable master). An instant before any occurrence makes every occurrence a later
# one: nobody on it counts as new, only someone who joins later does. Neither the occurrence's
# own start nor the earliest one seen may stand in: either would make a series that has run
# for years look new. The price: a new series with an unreadable master gets no
# first-occurrence follow-ups.
SERIES_START_UNKNOWN = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Meeting:
    """One occurrence of an event, as seen by one source.

    A single event is one Meeting; a recurring series yields one Meeting per occurrence, each
    with `recurrence_id` set to the occurrence's original start and `series_start` to the
    series' first start.
    """

    uid: str
    start: datetime
    end: datetime
    title: str = ""
    description: str = ""
    location: str = ""
    conference_url: str | None = None
    organizer: Attendee | None = None
    attendees: tuple[Attendee, ...] = ()
    status: MeetingStatus = MeetingStatus.CONFIRMED
    all_day: bool = False
    transparent: bool = False  # TRANSP:TRANSPARENT / "free": does not block time
    recurrence_id: datetime | None = None
    series_start: datetime | None = None
    sequence: int = 0
    attendees_omitted: bool = False  # the source truncated the list (Google attendeesOmitted)
    source: str = ""  # where it came from, for logs and merge priority: "calendar:..."/"mail:..."
    # The IANA zone the event was written in (its TZID, Google timeZone, Graph
    # originalStartTimeZone), when known: the other side's zone when it is not the user's.
    timezone: str | None = None

    @property
    def occurrence(self) -> datetime:
        """The occurrence's identity within its series: its original start."""
        return self.recurrence_id or self.start

    @property
    def is_recurring(self) -> bool:
        return self.series_start is not None


def zone_name(zone: object) -> str | None:
    """The IANA key of a zone object (ZoneInfo, or anything with a `.key`/`.zone` id), or None
    for fixed offsets and UTC: those say nothing about where the other side is."""
    key = getattr(zone, "key", None) or getattr(zone, "zone", None)
    if not isinstance(key, str) or "/" not in key or key.startswith("Etc/"):
        return None
    return key


@dataclass(frozen=True, slots=True)
class OccurrenceRef:
    """Names a removed meeting: one occurrence, or with `occurrence=None` the whole UID."""

    uid: str
    occurrence: datetime | None = None


@dataclass(frozen=True, slots=True)
class Interval:
    start: datetime
    end: datetime

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


# --- What the core asks providers to write -------------------------------------------------


class WriteKind(StrEnum):
    CONTACT = "contact"  # create a contact, or annotate the existing one
    DRAFT = "draft"
    BLOCK = "block"  # a follow-up event on the user's calendar


@dataclass(frozen=True, slots=True)
class ContactPayload:
    email: str
    display_name: str | None  # cleaned; None when we only know the address
    given_name: str | None
    family_name: str | None
    organization: str | None
    note: str  # "Met at <meeting>, <date>" (one line, ours, tagged by the key)
    group: str = "followup"  # a label / category / group to file it under


@dataclass(frozen=True, slots=True)
class DraftPayload:
    """A composed message. `to` is (display name or None, address)."""

    to: tuple[tuple[str | None, str], ...]
    subject: str
    body: str  # text/plain
    message_id: str  # "<...@followup.invalid>"-style, derived from the key
    from_addr: tuple[str | None, str] | None = None
    # A later touch replies in the thread of the last mail exchanged with the person:
    # In-Reply-To/References (MIME), the Gmail thread, the Graph message to reply to.
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    thread_id: str | None = None
    reply_to_remote: str | None = None


@dataclass(frozen=True, slots=True)
class BlockPayload:
    summary: str  # "Send follow-up to Jane Doe, Acme"
    description: str  # who, why, where the draft is
    start: datetime
    end: datetime
    conflict: bool = False  # no free slot before the deadline: placed at it anyway
    # The drafts this block is about: the engine puts a link to each into the description
    # when it writes the block (a link is only known once the draft exists).
    draft_keys: tuple[str, ...] = ()
    # A time offered in a draft, held on the calendar ([drafts] hold_offers): written as
    # tentative, and removed when the draft is deleted or the hold passes.
    tentative: bool = False


Payload = ContactPayload | DraftPayload | BlockPayload


@dataclass(frozen=True, slots=True)
class WriteIntent:
    key: str  # stable idempotency key (see keys.py)
    kind: WriteKind
    payload: Payload
    due: datetime  # not before this time
    person: str  # email of the person it concerns ("" for a batched weekly block)
    meeting_uid: str = ""
    occurrence: datetime | None = None
    touch: int = 0  # 0 = first touch, 1.. = nurture touches


class WriteOutcome(StrEnum):
    CREATED = "created"
    EXISTED = "existed"  # found by its key: an earlier attempt had written it
    ANNOTATED = "annotated"  # a contact that already existed gained our note
    DISMISSED = "dismissed"  # the user deleted what we wrote: never recreate


@dataclass(frozen=True, slots=True)
class WriteResult:
    outcome: WriteOutcome
    remote_id: str | None = None
    fingerprint: str | None = None  # what the object looked like when written, to spot edits


class RemoteState(StrEnum):
    PRESENT = "present"  # as we wrote it
    EDITED = "edited"  # the user changed it: never overwrite, never remove on undo
    MISSING = "missing"  # deleted (or never written)


class RemoveOutcome(StrEnum):
    REMOVED = "removed"
    GONE = "gone"  # already not there
    KEPT = "kept"  # the user edited it; left alone


@dataclass(frozen=True, slots=True)
class Skip:
    """Why a person (or a whole meeting, with email "") gets no follow-up."""

    email: str
    code: str  # machine-readable, e.g. "self", "internal", "resource", "declined"
    reason: str  # one sentence for humans


@dataclass(frozen=True, slots=True)
class Card:
    """A person's card in the user's own address book, as far as a greeting needs it."""

    email: str
    name: str | None = None  # the card's formatted name ("Klaus Weber")
    given_name: str | None = None


@dataclass(frozen=True, slots=True)
class Interaction:
    """The latest mail exchanged with a person: either direction."""

    email: str
    at: datetime
    direction: str  # "sent" (by the user) or "received"
    # That mail, as far as the provider tells, so a later touch can reply in its thread.
    message_id: str | None = None  # its Message-ID header, "<...>"
    thread_id: str | None = None  # Gmail threadId / Graph conversationId
    subject: str | None = None
    remote_id: str | None = None  # the provider's id of the message (Graph: for createReply)


@dataclass(slots=True)
class CalendarChanges:
    """What a meeting source reports since its cursor.

    Removals apply before upserts. With `full=True` the upserts are the source's complete
    content for the window: anything stored for this source and not in them is gone.
    """

    upserts: list[Meeting] = field(default_factory=list)
    removed: list[OccurrenceRef] = field(default_factory=list)
    cursor: str | None = None
    full: bool = False
    errors: list[str] = field(default_factory=list)  # skipped inputs, already logged

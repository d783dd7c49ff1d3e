"""The small typed interfaces every provider implements.

The core and the engine talk to providers only through these. A provider is a package under
followup.providers; it never imports another provider.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from followup.model import (
    BlockPayload,
    CalendarChanges,
    Card,
    ContactPayload,
    DraftPayload,
    Interaction,
    Interval,
    RemoteState,
    RemoveOutcome,
    WriteResult,
)

P_contra = TypeVar("P_contra", contravariant=True)


class MeetingSource(Protocol):
    """Reads meetings: a calendar, or a mailbox folder of invitations."""

    @property
    def name(self) -> str:
        """Stable name, used to key the source's cursor and its meetings in the ledger."""
        ...

    def changes(self, cursor: str | None, window: Interval) -> CalendarChanges:
        """Changes since `cursor` (None: everything in `window`).

        Recurring events are expanded into occurrences that overlap `window`. A source whose
        cursor went stale (Google 410, Graph syncStateNotFound) starts over and says `full=True`.
        Inputs that cannot be read are skipped, logged, and listed in `errors`.
        """
        ...


class Availability(Protocol):
    def busy(self, window: Interval) -> list[Interval]:
        """Times the user is busy (opaque, not cancelled, not declined), merged or not."""
        ...


class MailHistory(Protocol):
    def last_interactions(
        self, emails: Sequence[str], since: datetime
    ) -> dict[str, Interaction]:
        """The latest message the user sent to, or received from, each address since `since`.

        Addresses with no such message are absent from the result.
        """
        ...


class AddressBook(Protocol):
    def lookup(self, emails: Sequence[str]) -> dict[str, Card]:
        """The user's own cards for these addresses (absent: no card). Read-only."""
        ...


class Target(Protocol[P_contra]):
    """Where one kind of write goes (contacts, drafts, follow-up blocks), exactly once.

    Every object written carries the idempotency key so it can be found again
    (file name, event id, extended property, Message-ID, clientData...).
    """

    def ensure(self, key: str, payload: P_contra, *, recovering: bool) -> WriteResult:
        """Make the object for `key` exist.

        With `recovering=True` (an earlier attempt may have written it) look the key up first:
        found -> EXISTED; found deleted by the user (e.g. a cancelled Google event) -> DISMISSED.
        Without it, create directly, but still treat "already exists" answers as EXISTED.
        Contacts: an existing contact with the same email gains the note -> ANNOTATED.
        """
        ...

    def state(self, key: str, remote_id: str | None, fingerprint: str | None) -> RemoteState:
        """Whether what we wrote is still there, and whether the user changed it."""
        ...

    def remove(self, key: str, remote_id: str | None, fingerprint: str | None) -> RemoveOutcome:
        """Undo our write: delete what we created, or strip our note from a contact.

        Something the user edited is KEPT.
        """
        ...


class ContactTarget(Target[ContactPayload], Protocol):
    pass


class DraftTarget(Target[DraftPayload], Protocol):
    pass


class BlockTarget(Target[BlockPayload], Protocol):
    pass


@dataclass(frozen=True)
class CredentialInfo:
    """What `followup status` and `doctor` show about an account's credentials."""

    state: str  # "ok" | "missing" | "needs_reconnect" | "expiring" | "none" (local accounts)
    message: str = ""  # what to do, for humans
    path: str | None = None  # where the token is stored
    expires_at: datetime | None = None  # access token expiry
    refresh_expires_at: datetime | None = None  # e.g. Google "Testing" apps: 7 days
    scopes: tuple[str, ...] = ()


@dataclass
class Account:
    """One connected account: what the engine needs from a provider, nothing more."""

    name: str
    kind: str  # "local" | "google" | "microsoft"
    sources: list[MeetingSource]
    availability: Availability
    mail: MailHistory
    contacts: ContactTarget
    drafts: DraftTarget
    blocks: BlockTarget
    self_addresses: tuple[str, ...] = ()  # addresses the provider knows are the user's own
    where_drafts_are: str = "your Drafts folder"  # for block descriptions
    # The user's address book, read before a first note (a known person is greeted by the
    # card's name and not told "good to meet you"); None where the provider cannot.
    address_book: AddressBook | None = None
    # A link to a written draft for the block's description: (key, remote id, Message-ID)
    # -> a URL or a path; None where the provider has no way to point at one.
    draft_link: Callable[[str, str | None, str], str | None] | None = None

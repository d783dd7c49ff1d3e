"""The provider contract suite (after vdirsyncer's tests/storage): subclass a class here in a
provider's tests, give it a `world` fixture, and the provider runs the same checks as every
other one. The memory twin runs them in test_memory.py.

A world is the provider plus a way to act as the user (edit, delete, add a contact or a
meeting, send mail) through whatever the provider talks to: files for the local provider, the
test HTTP server for Google and Microsoft.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pytest

from followup import keys
from followup.model import (
    BlockPayload,
    ContactPayload,
    DraftPayload,
    Interval,
    Meeting,
    RemoteState,
    RemoveOutcome,
    WriteKind,
    WriteOutcome,
    WriteResult,
)
from followup.protocols import (
    Availability,
    BlockTarget,
    ContactTarget,
    DraftTarget,
    MailHistory,
    MeetingSource,
)

T0 = datetime(2025, 3, 10, 14, 0, tzinfo=UTC)  # a Monday afternoon
ALL_KINDS = [WriteKind.CONTACT, WriteKind.DRAFT, WriteKind.BLOCK]


class TargetWorld(Protocol):
    contacts: ContactTarget
    drafts: DraftTarget
    blocks: BlockTarget

    def user_edits(self, kind: WriteKind, key: str, result: WriteResult) -> None:
        """Change the object we wrote, as the user would (a word in a draft, a block moved)."""

    def user_deletes(self, kind: WriteKind, key: str, result: WriteResult) -> None:
        """Delete the object we wrote, as the user would."""

    def user_has_contact(self, email: str, name: str, note: str) -> None:
        """Put a card the user made themself in the address book."""

    def count(self, kind: WriteKind) -> int:
        """How many objects of this kind the user sees (contacts, drafts, live blocks)."""

    def contact_notes(self, email: str) -> list[str]:
        """The notes on the card(s) with this address, in order."""


class SourceWorld(Protocol):
    source: MeetingSource
    availability: Availability

    def add_meeting(self, meeting: Meeting) -> None: ...

    def remove_meeting(self, uid: str) -> None: ...


class MailWorld(Protocol):
    mail: MailHistory

    def add_mail(self, email: str, at: datetime, direction: str) -> None:
        """A message the user sent to ("sent") or received from ("received") `email`."""


def key_for(kind: WriteKind, person: str = "jane@example.org", touch: int = 0) -> str:
    return keys.touch_key("contract", "meeting-1@example.org", T0, person, touch, kind.value)


def payload_for(kind: WriteKind, person: str = "jane@example.org", touch: int = 0) -> Any:
    if kind is WriteKind.CONTACT:
        return ContactPayload(
            email=person, display_name="Jane Doe", given_name="Jane", family_name="Doe",
            organization="Acme", note=f"Met at Roadmap review, 10 Mar 2025 (touch {touch})",
        )
    if kind is WriteKind.DRAFT:
        return DraftPayload(
            to=(("Jane Doe", person),), subject="Roadmap review: following up",
            body="Hi Jane,\n\nThanks for the time today.\n", message_id=keys.message_id(
                key_for(kind, person, touch)),
        )
    start = T0 + timedelta(hours=20 + touch)
    return BlockPayload(
        summary="Send follow-up to Jane Doe, Acme", description="Draft in your Drafts folder",
        start=start, end=start + timedelta(minutes=15),
    )


def target(world: TargetWorld, kind: WriteKind) -> Any:
    return {WriteKind.CONTACT: world.contacts, WriteKind.DRAFT: world.drafts,
            WriteKind.BLOCK: world.blocks}[kind]


class TargetContract:
    """Contacts, drafts and blocks: written once, found again by key, undone with care."""

    @pytest.fixture
    def world(self) -> TargetWorld:
        raise NotImplementedError("a provider's test class returns its world here")

    @pytest.fixture(params=ALL_KINDS, ids=lambda k: k.value)
    def kind(self, request: pytest.FixtureRequest) -> WriteKind:
        return WriteKind(request.param)

    def write(self, world: TargetWorld, kind: WriteKind, *, recovering: bool = False,
              touch: int = 0) -> WriteResult:
        result: WriteResult = target(world, kind).ensure(
            key_for(kind, touch=touch), payload_for(kind, touch=touch), recovering=recovering)
        return result

    def test_first_write_creates_one_object(self, world: TargetWorld, kind: WriteKind) -> None:
        result = self.write(world, kind)
        assert result.outcome is WriteOutcome.CREATED
        assert world.count(kind) == 1

    def test_second_ensure_finds_the_first(self, world: TargetWorld, kind: WriteKind) -> None:
        first = self.write(world, kind)
        again = self.write(world, kind, recovering=True)
        assert again.outcome is WriteOutcome.EXISTED
        assert again.remote_id == first.remote_id
        assert world.count(kind) == 1

    def test_recovering_lookup_after_a_lost_response(
        self, world: TargetWorld, kind: WriteKind
    ) -> None:
        # The first call's answer never reached us: all we have is the key.
        self.write(world, kind)
        found = self.write(world, kind, recovering=True)
        assert found.outcome is WriteOutcome.EXISTED
        assert found.remote_id
        key = key_for(kind)
        assert target(world, kind).state(key, found.remote_id, found.fingerprint) is (
            RemoteState.PRESENT)
        assert world.count(kind) == 1

    def test_recovering_with_nothing_written_creates(
        self, world: TargetWorld, kind: WriteKind
    ) -> None:
        assert self.write(world, kind, recovering=True).outcome is WriteOutcome.CREATED
        assert world.count(kind) == 1

    def test_state_present_then_edited(self, world: TargetWorld, kind: WriteKind) -> None:
        result = self.write(world, kind)
        t, key = target(world, kind), key_for(kind)
        assert t.state(key, result.remote_id, result.fingerprint) is RemoteState.PRESENT
        world.user_edits(kind, key, result)
        assert t.state(key, result.remote_id, result.fingerprint) is RemoteState.EDITED

    def test_state_after_user_deletion_is_missing(
        self, world: TargetWorld, kind: WriteKind
    ) -> None:
        result = self.write(world, kind)
        world.user_deletes(kind, key_for(kind), result)
        state = target(world, kind).state(key_for(kind), result.remote_id, result.fingerprint)
        assert state is RemoteState.MISSING

    def test_remove_of_an_edited_object_keeps_it(
        self, world: TargetWorld, kind: WriteKind
    ) -> None:
        result = self.write(world, kind)
        world.user_edits(kind, key_for(kind), result)
        outcome = target(world, kind).remove(key_for(kind), result.remote_id, result.fingerprint)
        assert outcome is RemoveOutcome.KEPT
        assert world.count(kind) == 1

    def test_remove_then_gone(self, world: TargetWorld, kind: WriteKind) -> None:
        result = self.write(world, kind)
        t, key = target(world, kind), key_for(kind)
        assert t.remove(key, result.remote_id, result.fingerprint) is RemoveOutcome.REMOVED
        assert world.count(kind) == 0
        assert t.remove(key, result.remote_id, result.fingerprint) is RemoveOutcome.GONE
        assert t.state(key, result.remote_id, result.fingerprint) is RemoteState.MISSING

    def test_remove_of_what_the_user_deleted_is_gone(
        self, world: TargetWorld, kind: WriteKind
    ) -> None:
        result = self.write(world, kind)
        world.user_deletes(kind, key_for(kind), result)
        outcome = target(world, kind).remove(key_for(kind), result.remote_id, result.fingerprint)
        assert outcome is RemoveOutcome.GONE

    def test_existing_contact_is_annotated_and_undo_strips_only_our_note(
        self, world: TargetWorld
    ) -> None:
        world.user_has_contact("jane@example.org", "Jane Doe", "Jane's own note")
        result = self.write(world, WriteKind.CONTACT)
        assert result.outcome is WriteOutcome.ANNOTATED
        assert world.count(WriteKind.CONTACT) == 1
        notes = world.contact_notes("jane@example.org")
        assert "Jane's own note" in notes
        assert any("Met at Roadmap review" in n for n in notes)

        key = key_for(WriteKind.CONTACT)
        assert world.contacts.remove(key, result.remote_id, result.fingerprint) is (
            RemoveOutcome.REMOVED)
        assert world.count(WriteKind.CONTACT) == 1
        assert world.contact_notes("jane@example.org") == ["Jane's own note"]

    def test_meeting_again_annotates_our_own_card(self, world: TargetWorld) -> None:
        first = self.write(world, WriteKind.CONTACT, touch=0)
        second = self.write(world, WriteKind.CONTACT, touch=1)
        assert first.outcome is WriteOutcome.CREATED
        assert second.outcome is WriteOutcome.ANNOTATED
        assert world.count(WriteKind.CONTACT) == 1
        # Our own later note is not a user edit: the card we created is still ours to remove.
        k0, k1 = key_for(WriteKind.CONTACT, touch=0), key_for(WriteKind.CONTACT, touch=1)
        assert world.contacts.state(k0, first.remote_id, first.fingerprint) is (
            RemoteState.PRESENT)
        assert world.contacts.remove(k1, second.remote_id, second.fingerprint) is (
            RemoveOutcome.REMOVED)
        assert world.contacts.remove(k0, first.remote_id, first.fingerprint) is (
            RemoveOutcome.REMOVED)
        assert world.count(WriteKind.CONTACT) == 0


def meeting(uid: str, start: datetime, minutes: int = 60, **kw: Any) -> Meeting:
    return Meeting(uid=uid, start=start, end=start + timedelta(minutes=minutes),
                   title=kw.pop("title", f"Meeting {uid}"), **kw)


class SourceContract:
    """A meeting source reports what changed since its cursor, and nothing when nothing did."""

    WINDOW = Interval(T0 - timedelta(days=3), T0 + timedelta(days=14))

    @pytest.fixture
    def world(self) -> SourceWorld:
        raise NotImplementedError("a provider's test class returns its world here")

    def test_first_sync_lists_the_window(self, world: SourceWorld) -> None:
        world.add_meeting(meeting("inside@example.org", T0))
        world.add_meeting(meeting("far-away@example.org", T0 + timedelta(days=60)))
        changes = world.source.changes(None, self.WINDOW)
        assert [m.uid for m in changes.upserts] == ["inside@example.org"]
        assert changes.cursor is not None

    def test_nothing_changed_reports_nothing(self, world: SourceWorld) -> None:
        world.add_meeting(meeting("a@example.org", T0))
        first = world.source.changes(None, self.WINDOW)
        again = world.source.changes(first.cursor, self.WINDOW)
        assert not again.full
        assert again.upserts == [] and again.removed == []

    def test_new_and_removed_meetings_show_up(self, world: SourceWorld) -> None:
        world.add_meeting(meeting("a@example.org", T0))
        first = world.source.changes(None, self.WINDOW)
        world.remove_meeting("a@example.org")
        world.add_meeting(meeting("b@example.org", T0 + timedelta(days=1)))
        later = world.source.changes(first.cursor, self.WINDOW)
        assert [m.uid for m in later.upserts] == ["b@example.org"]
        gone = [r.uid for r in later.removed]
        assert "a@example.org" in gone or (later.full and "a@example.org" not in
                                           [m.uid for m in later.upserts])

    def test_busy_covers_opaque_meetings_only(self, world: SourceWorld) -> None:
        world.add_meeting(meeting("busy@example.org", T0))
        world.add_meeting(meeting("free@example.org", T0 + timedelta(hours=3), transparent=True))
        busy = world.availability.busy(Interval(T0 - timedelta(hours=1), T0 + timedelta(hours=6)))
        assert any(b.start <= T0 and b.end >= T0 + timedelta(hours=1) for b in busy)
        free = Interval(T0 + timedelta(hours=3), T0 + timedelta(hours=4))
        assert not any(b.overlaps(free) for b in busy)


class MailContract:
    """Mail history: the latest message either way per address, since a time."""

    @pytest.fixture
    def world(self) -> MailWorld:
        raise NotImplementedError("a provider's test class returns its world here")

    def test_latest_interaction_either_way(self, world: MailWorld) -> None:
        world.add_mail("jane@example.org", T0 + timedelta(hours=1), "received")
        world.add_mail("jane@example.org", T0 + timedelta(hours=5), "sent")
        world.add_mail("bob@example.org", T0 - timedelta(days=2), "received")
        found = world.mail.last_interactions(
            ["Jane@Example.org", "bob@example.org", "nobody@example.org"], since=T0)
        assert set(found) == {"jane@example.org"}
        assert found["jane@example.org"].at == T0 + timedelta(hours=5)
        assert found["jane@example.org"].direction == "sent"

    def test_no_addresses_no_answer(self, world: MailWorld) -> None:
        assert world.mail.last_interactions([], since=T0) == {}

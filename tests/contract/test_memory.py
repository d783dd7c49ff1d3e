"""The memory twin runs the provider contract, like every real provider; plus its own faults."""

from __future__ import annotations

from datetime import datetime

import pytest

from contract.suite import (
    T0,
    MailContract,
    SourceContract,
    TargetContract,
    key_for,
    payload_for,
)
from followup.errors import TransientError
from followup.model import Meeting, WriteKind, WriteOutcome, WriteResult
from followup.providers.memory import Faults, MemoryProvider


class MemoryWorld:
    def __init__(self) -> None:
        self.provider = MemoryProvider()
        account = self.provider.account()
        self.contacts = account.contacts
        self.drafts = account.drafts
        self.blocks = account.blocks
        self.source = account.sources[0]
        self.availability = account.availability
        self.mail = account.mail

    def user_edits(self, kind: WriteKind, key: str, result: WriteResult) -> None:
        assert result.remote_id is not None
        self.provider.edit(kind, result.remote_id)

    def user_deletes(self, kind: WriteKind, key: str, result: WriteResult) -> None:
        assert result.remote_id is not None
        self.provider.delete(kind, result.remote_id)

    def user_has_contact(self, email: str, name: str, note: str) -> None:
        self.provider.add_contact(email, name, note)

    def count(self, kind: WriteKind) -> int:
        p = self.provider
        return {WriteKind.CONTACT: len(p.contacts), WriteKind.DRAFT: len(p.drafts),
                WriteKind.BLOCK: len(p.live_blocks())}[kind]

    def contact_notes(self, email: str) -> list[str]:
        return [n.text for c in self.provider.contacts_for(email) for n in c.notes]

    def add_meeting(self, meeting: Meeting) -> None:
        self.provider.add_meeting(meeting)

    def remove_meeting(self, uid: str) -> None:
        self.provider.remove_meeting(uid)

    def add_mail(self, email: str, at: datetime, direction: str) -> None:
        self.provider.add_mail(email, at, direction)


class TestMemoryTargets(TargetContract):
    @pytest.fixture
    def world(self) -> MemoryWorld:
        return MemoryWorld()


class TestMemorySource(SourceContract):
    @pytest.fixture
    def world(self) -> MemoryWorld:
        return MemoryWorld()


class TestMemoryMail(MailContract):
    @pytest.fixture
    def world(self) -> MemoryWorld:
        return MemoryWorld()


def test_a_draft_written_blind_twice_is_doubled_like_gmail() -> None:
    # Why the engine must pass recovering=True after an uncertain attempt.
    world = MemoryWorld()
    for _ in range(2):
        world.drafts.ensure(key_for(WriteKind.DRAFT), payload_for(WriteKind.DRAFT),
                            recovering=False)
    assert world.count(WriteKind.DRAFT) == 2


def test_a_block_the_user_deleted_is_dismissed_not_recreated() -> None:
    world = MemoryWorld()
    key, payload = key_for(WriteKind.BLOCK), payload_for(WriteKind.BLOCK)
    first = world.blocks.ensure(key, payload, recovering=False)
    world.user_deletes(WriteKind.BLOCK, key, first)
    again = world.blocks.ensure(key, payload, recovering=True)
    assert again.outcome is WriteOutcome.DISMISSED
    assert world.count(WriteKind.BLOCK) == 0


def test_lost_response_applies_then_raises() -> None:
    provider = MemoryProvider(faults=Faults().on("drafts.ensure", 1, lost_response=True))
    drafts = provider.account().drafts
    key, payload = key_for(WriteKind.DRAFT), payload_for(WriteKind.DRAFT)
    with pytest.raises(TransientError):
        drafts.ensure(key, payload, recovering=False)
    assert len(provider.drafts) == 1
    assert drafts.ensure(key, payload, recovering=True).outcome is WriteOutcome.EXISTED
    assert len(provider.drafts) == 1


def test_a_fault_before_the_call_changes_nothing() -> None:
    provider = MemoryProvider(faults=Faults().on("contacts.ensure", 2))
    contacts = provider.account().contacts
    contacts.ensure(key_for(WriteKind.CONTACT), payload_for(WriteKind.CONTACT), recovering=False)
    with pytest.raises(TransientError):
        contacts.ensure(key_for(WriteKind.CONTACT, touch=1),
                        payload_for(WriteKind.CONTACT, touch=1), recovering=False)
    assert [len(c.notes) for c in provider.contacts.values()] == [1]
    assert provider.calls["contacts.ensure"] == 2


def test_random_faults_are_reproducible() -> None:
    def failures(seed: int) -> list[int]:
        provider = MemoryProvider(faults=Faults().at_random(0.2, seed=seed))
        blocks, out = provider.account().blocks, []
        for i in range(50):
            try:
                blocks.ensure(key_for(WriteKind.BLOCK, touch=i),
                              payload_for(WriteKind.BLOCK, touch=i), recovering=True)
            except TransientError:
                out.append(i)
        return out

    assert failures(7) == failures(7)
    assert 0 < len(failures(7)) < 25


def test_a_stale_cursor_starts_over_with_full() -> None:
    world = MemoryWorld()
    world.add_meeting(Meeting(uid="a", start=T0, end=T0.replace(hour=15)))
    first = world.source.changes(None, SourceContract.WINDOW)
    world.provider.calendar.expire_cursors()
    again = world.source.changes(first.cursor, SourceContract.WINDOW)
    assert again.full
    assert [m.uid for m in again.upserts] == ["a"]

"""The Google provider runs the same contract as every provider, against the fake Google."""

from __future__ import annotations

import pytest
from fake_google import FakeGoogle
from google_world import GoogleWorld

from contract.suite import MailContract, SourceContract, TargetContract
from followup.protocols import Account


@pytest.fixture
def google_world(fake: FakeGoogle, account: Account) -> GoogleWorld:
    return GoogleWorld(fake, account)


class TestGoogleTargets(TargetContract):
    @pytest.fixture
    def world(self, google_world: GoogleWorld) -> GoogleWorld:
        return google_world


class TestGoogleTargetsWithFaults(TargetContract):
    """The same contract while a fifth of the requests fail (429, 5xx, lost answers)."""

    @pytest.fixture
    def world(self, google_world: GoogleWorld, fake: FakeGoogle) -> GoogleWorld:
        fake.random_faults(0.2, seed=7)
        return google_world


class TestGoogleSource(SourceContract):
    @pytest.fixture
    def world(self, google_world: GoogleWorld) -> GoogleWorld:
        return google_world


class TestGoogleMail(MailContract):
    @pytest.fixture
    def world(self, google_world: GoogleWorld) -> GoogleWorld:
        return google_world

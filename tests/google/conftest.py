"""Fixtures for the Google provider: a fake Google on 127.0.0.1 and an account connected to it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fake_google import FakeGoogle

from followup.config import Config, GoogleAccount, UserConfig
from followup.protocols import Account
from followup.providers.google import open_google_account
from followup.providers.google.tokens import FileTokenStore
from followup.providers import token_path

T0 = datetime(2025, 3, 10, 14, 0, tzinfo=UTC)  # a Monday afternoon


@pytest.fixture
def fake() -> Iterator[FakeGoogle]:
    server = FakeGoogle(user="me@example.com").start()
    server.clock = T0
    yield server
    server.stop()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        user=UserConfig(name="Me Myself", addresses=["me@example.com"], timezone="UTC"),
        state_dir=str(tmp_path / "state"),
    )


def account_config(fake: FakeGoogle, **overrides: object) -> GoogleAccount:
    return GoogleAccount.model_validate(
        {"name": "work", **fake.account_urls(), "max_attempts": 6, **overrides}
    )


@pytest.fixture
def cfg(fake: FakeGoogle) -> GoogleAccount:
    return account_config(fake)


def connect(fake: FakeGoogle, cfg: GoogleAccount, config: Config) -> None:
    """As if `followup connect google` had run: a grant in the token file."""
    FileTokenStore(token_path(config, cfg.name)).save(fake.authorized_user_info())


@pytest.fixture
def sleeps() -> list[float]:
    """Waits the retry policy asked for; recorded instead of slept."""
    return []


@pytest.fixture
def account(fake: FakeGoogle, cfg: GoogleAccount, config: Config, sleeps: list[float]
            ) -> Account:
    connect(fake, cfg, config)
    return open_google_account(cfg, config, clock=lambda: T0, sleep=sleeps.append)

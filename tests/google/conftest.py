"""Fixtures for the Google provider: a fake Google on 127.0.0.1 and an account connected to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_google import FakeGoogle
from google_cycles import Cycles
from google_env import T0, account_config, connect

from followup.config import Config, GoogleAccount, UserConfig
from followup.ledger import Ledger
from followup.protocols import Account
from followup.providers.google import open_google_account


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


@pytest.fixture
def cfg(fake: FakeGoogle) -> GoogleAccount:
    return account_config(fake)


@pytest.fixture
def sleeps() -> list[float]:
    """Waits the retry policy asked for; recorded instead of slept."""
    return []


@pytest.fixture
def account(fake: FakeGoogle, cfg: GoogleAccount, config: Config, sleeps: list[float]
            ) -> Account:
    connect(fake, cfg, config)
    return open_google_account(cfg, config, clock=lambda: T0, sleep=sleeps.append)


@pytest.fixture
def cycles(fake: FakeGoogle, cfg: GoogleAccount, config: Config,
           tmp_path: Path) -> Iterator[Cycles]:
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite3'}") as ledger:
        yield Cycles(fake, cfg, config, ledger)

"""Fixtures for engine tests (helpers are in world.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.world import ME, World, make_config
from followup.ledger import Ledger
from followup.providers.memory import MemoryProvider


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    with Ledger.open(ledger_url) as opened:
        yield opened


@pytest.fixture
def world(ledger: Ledger) -> World:
    return World(ledger, MemoryProvider("work", self_addresses=[ME]), make_config())

"""Company mode on the local PostgreSQL: a schema of its own per test (tests/conftest.py's
`postgres_url`, which fails instead of skipping in CI), a master key, local-file accounts.

Accounts here are local ones (vdir calendar, Maildir, vCards, .ics blocks): a real provider
whose objects can be counted on disk, shared by every worker process, so "exactly once"
is checked on what the user would see.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet

from followup.company.admin import init_database
from followup.company.crypto import KEY_ENV, MasterKeys
from followup.company.store import AccountStore
from followup.ledger.connect import make_engine


@pytest.fixture
def master_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv(KEY_ENV, key)
    return key


@pytest.fixture
def company_url(postgres_url: str, master_key: str) -> str:
    engine = make_engine(postgres_url)
    try:
        init_database(postgres_url, engine)
    finally:
        engine.dispose()
    return postgres_url


@pytest.fixture
def store(company_url: str, master_key: str) -> Iterator[AccountStore]:
    engine = make_engine(company_url)
    yield AccountStore(engine, MasterKeys.from_text(master_key))
    engine.dispose()

"""googleapiclient's method objects are built once per process and shared by every account,
while each account's requests still carry that account's own credentials."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from fake_google import FakeGoogle
from google_env import T0, account_config, connect
from googleapiclient import discovery

from followup.config import Config
from followup.errors import AuthError
from followup.model import Interval
from followup.protocols import Account
from followup.providers import token_path
from followup.providers.google import open_google_account
from followup.providers.google.tokens import FileTokenStore

WINDOW = Interval(T0 - timedelta(days=3), T0 + timedelta(days=14))


@pytest.fixture
def method_builds(monkeypatch: pytest.MonkeyPatch) -> Counter[tuple[str, str]]:
    """(method id, name) of every method object googleapiclient builds from now on."""
    builds: Counter[tuple[str, str]] = Counter()
    real = discovery.createMethod

    def counting(name: str, desc: dict[str, Any], root: Any, schema: Any) -> Any:
        builds[(str(desc.get("id")), name)] += 1
        return real(name, desc, root, schema)

    monkeypatch.setattr(discovery, "createMethod", counting)
    return builds


def _open(fake: FakeGoogle, config: Config, name: str) -> Account:
    cfg = account_config(fake, name=name)
    connect(fake, cfg, config)
    return open_google_account(cfg, config, clock=lambda: T0, sleep=lambda s: None)


def _use(account: Account) -> None:
    """A calendar sync, an invitation look and a mail history search."""
    for source in account.sources:
        source.changes(None, WINDOW)
    account.mail.last_interactions(["jane@acme.example"], since=T0 - timedelta(days=30))


def test_method_objects_are_built_once_per_process(
        fake: FakeGoogle, config: Config, method_builds: Counter[tuple[str, str]]) -> None:
    first = _open(fake, config, "work")
    _use(first)
    built = sum(method_builds.values())
    assert method_builds[("calendar.events.list", "list")] == 1
    assert max(method_builds.values()) == 1
    for _ in range(3):  # idle cycles: nothing is built again
        _use(first)
    second = _open(fake, config, "home")  # another account in the same process
    _use(second)
    assert sum(method_builds.values()) == built
    assert fake.counts()["calendar.events.list"] == 5  # the calls did go out


def test_each_account_sends_its_own_credentials(fake: FakeGoogle, config: Config) -> None:
    work = _open(fake, config, "work")
    home = _open(fake, config, "home")
    _use(work)
    _use(home)
    # Google refuses the first account's grant: only that account is affected.
    stored = FileTokenStore(token_path(config, "work")).load()
    assert stored is not None
    fake.grants[stored["refresh_token"]].revoked = True
    with pytest.raises(AuthError):
        _use(work)
    _use(home)

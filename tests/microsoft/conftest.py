"""Fixtures: a throwaway CA, the fake authority and fake Graph, and a connected account.

REQUESTS_CA_BUNDLE is set to a file that does not exist for every test here: the provider
must use its configured ca_bundle (msal's requests session would otherwise take the
environment's bundle instead, see docs/microsoft.md).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from followup.config import Config, MicrosoftAccount
from followup.protocols import Account
from followup.providers.microsoft import connect_microsoft, open_microsoft_account

from .authority_fake import FakeAuthority
from .graph_fake import FakeGraph
from .tls import TestCA


@pytest.fixture(scope="session")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("ca"))


class MsWorld:
    """The fakes, the config pointing at them, and helpers to connect and open the account."""

    def __init__(self, ca: TestCA, tmp_path: Path) -> None:
        self.graph = FakeGraph(ca)
        self.authority = FakeAuthority(ca, accept_token=self.graph.tokens.add)
        self.cfg = MicrosoftAccount(
            name="work", client_id="11111111-2222-3333-4444-555555555555",
            tenant="organizations", authority_url=self.authority.url,
            graph_url=self.graph.url, ca_bundle=str(ca.bundle),
        )
        self.config = Config(state_dir=str(tmp_path / "state"), accounts=[self.cfg])
        self.sleeps: list[float] = []
        self.now = datetime.now(UTC)  # the accounts' clock (Inbox looks); tests move it

    def connect(self) -> str:
        out = io.StringIO()
        code = connect_microsoft(self.cfg, self.config, tenant=None, client_id=None,
                                 browser=False, out=out)
        assert code == 0, out.getvalue()
        return out.getvalue()

    def open(self) -> Account:
        return open_microsoft_account(self.cfg, self.config, sleep=self.sleeps.append,
                                      clock=lambda: self.now)

    def close(self) -> None:
        self.graph.close()
        self.authority.close()


@pytest.fixture
def ms(ca: TestCA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MsWorld]:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "no-such-ca.pem"))
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    world = MsWorld(ca, tmp_path)
    yield world
    world.close()


@pytest.fixture
def account(ms: MsWorld) -> Account:
    ms.connect()
    return ms.open()

"""`followup admin push status` through the real command line; the company commands keep
their own routes."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from followup.cli import main
from followup.company.store import AccountStore
from followup.push.channels import ChannelStore


def test_push_status_and_the_company_commands_side_by_side(
        db: tuple[str, Engine], accounts: AccountStore, channels: ChannelStore,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOLLOWUP_DATABASE_URL", db[0])
    accounts.add_account("acme", {"kind": "local", "name": "alice"})
    now = datetime.now(UTC)
    channels.add(id="c1", account="alice", tenant="acme", kind="calendar", resource="primary",
                 expires_at=now + timedelta(minutes=30), secret="x")
    channels.forged("c1")
    out = io.StringIO()
    assert main(["admin", "push", "status", "--list"], out=out) == 0
    text = out.getvalue()
    assert "push_channels_expiring: 1" in text
    assert "push_notices_forged: 1" in text
    assert "alice\tcalendar\tprimary" in text and "forged 1" in text
    out = io.StringIO()
    assert main(["admin", "push", "status", "--prometheus"], out=out) == 0
    assert "followup_push_channels_calendar 1" in out.getvalue()
    out = io.StringIO()
    assert main(["admin", "account", "list"], out=out) == 0  # still company.admin's
    assert "acme\talice\tlocal" in out.getvalue()
    out = io.StringIO()
    assert main(["admin", "account", "forget", "alice"], out=out) == 1  # enabled: refused


def test_company_status_shows_push_channels(db: tuple[str, Engine], accounts: AccountStore,
                                            channels: ChannelStore,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOLLOWUP_DATABASE_URL", db[0])
    accounts.add_account("acme", {"kind": "local", "name": "alice"})
    channels.add(id="g", account="alice", tenant="acme", kind="gmail", resource="a@x.example",
                 expires_at=datetime.now(UTC) - timedelta(minutes=1))
    channels.failed("g", "HttpError 403 forbidden")
    out = io.StringIO()
    assert main(["admin", "status"], out=out) == 0
    assert "push_channels_expired: 1" in out.getvalue()
    assert "push_channels_failing: 1" in out.getvalue()

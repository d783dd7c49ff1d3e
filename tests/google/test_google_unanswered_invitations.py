"""An invitation mail the user has not answered, for a meeting not on their calendar, creates
nothing (RFC 6047 §3; issue: an unsolicited invite yielded a contact, a draft and a block)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fake_google import FakeGoogle
from google_env import T0

from followup.model import Interval
from followup.protocols import Account

CORPUS = Path(__file__).resolve().parents[1] / "data" / "calmailproc" / "maildir" / "cur"
WINDOW = Interval(T0 - timedelta(days=3), T0 + timedelta(days=14))


def test_an_unanswered_invitation_mail_creates_nothing(fake: FakeGoogle, account: Account) -> None:
    # The user (me@example.com) is not its organiser and has not answered it.
    fake.add_message((CORPUS / "test-01-1.eml").read_bytes(),
                     at=datetime(2025, 3, 10, 9, 41, tzinfo=UTC))
    [source] = [s for s in account.sources if s.name == "mail:gmail"]
    assert source.changes(None, WINDOW).upserts == []

"""Shared by the Google tests: the clock, an account's config, and a connected grant.

(Helpers live here, not in conftest.py: several conftest modules share that name.)
"""

from __future__ import annotations

from datetime import UTC, datetime

from fake_google import FakeGoogle

from followup.config import Config, GoogleAccount
from followup.providers import token_path
from followup.providers.google.tokens import FileTokenStore

T0 = datetime(2025, 3, 10, 14, 0, tzinfo=UTC)  # a Monday afternoon


def account_config(fake: FakeGoogle, **overrides: object) -> GoogleAccount:
    return GoogleAccount.model_validate(
        # Invitations looked for on every call unless a test asks for the real throttle.
        {"name": "work", **fake.account_urls(), "max_attempts": 6,
         "invitations_every_minutes": 0, **overrides}
    )


def connect(fake: FakeGoogle, cfg: GoogleAccount, config: Config) -> None:
    """As if `followup connect google` had run: a grant in the token file."""
    FileTokenStore(token_path(config, cfg.name)).save(fake.authorized_user_info())

"""Providers: adapters from real calendars, mailboxes and address books to followup.protocols.

Each provider lives in its own subpackage and is imported only when an account uses it, so
that the local provider runs without the Google or Microsoft libraries being imported.
"""

from __future__ import annotations

from followup.config import Config, GoogleAccount, LocalAccount, MicrosoftAccount
from followup.protocols import Account


def open_account(
    account: LocalAccount | GoogleAccount | MicrosoftAccount, config: Config
) -> Account:
    """Build the Account for one configured account. Raises AuthError when it needs connecting."""
    if isinstance(account, LocalAccount):
        from followup.providers.local import open_local_account

        return open_local_account(account, config)
    if isinstance(account, GoogleAccount):
        from followup.providers.google import open_google_account

        return open_google_account(account, config)
    from followup.providers.microsoft import open_microsoft_account

    return open_microsoft_account(account, config)

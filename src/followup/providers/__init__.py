"""Providers: adapters from real calendars, mailboxes and address books to followup.protocols.

Each provider lives in its own subpackage and is imported only when an account uses it, so
that the local provider runs without the Google or Microsoft libraries being imported.
"""

from __future__ import annotations

from pathlib import Path

from followup.config import Config, GoogleAccount, LocalAccount, MicrosoftAccount
from followup.protocols import Account, CredentialInfo


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


def credential_info(
    account: LocalAccount | GoogleAccount | MicrosoftAccount, config: Config
) -> CredentialInfo:
    """The state of an account's stored credentials, without any network call."""
    if isinstance(account, LocalAccount):
        return CredentialInfo(state="none", message="local files: no credentials needed")
    if isinstance(account, GoogleAccount):
        from followup.providers.google import google_credential_info

        return google_credential_info(account, config)
    from followup.providers.microsoft import microsoft_credential_info

    return microsoft_credential_info(account, config)


def token_path(config: Config, account_name: str, suffix: str = ".json") -> Path:
    """An account's token file: <state dir>/tokens/<account><suffix>; dir 0700, file 0600."""
    return config.state_path() / "tokens" / f"{account_name}{suffix}"

"""Providers: adapters from real calendars, mailboxes and address books to followup.protocols.

Each provider lives in its own subpackage and is imported only when an account uses it, so
that the local provider runs without the Google or Microsoft libraries being imported.
"""

from __future__ import annotations

from pathlib import Path

from followup.config import Config, GoogleAccount, LocalAccount, MicrosoftAccount
from followup.errors import ProviderError
from followup.protocols import Account, CredentialInfo

# The top-level modules of each provider's libraries, installed with its extra.
_LIBRARIES = {
    "google": ("googleapiclient", "google", "google_auth_oauthlib", "google_auth_httplib2",
               "httplib2"),
    "microsoft": ("msal",),
}


def missing_library(kind: str, e: ModuleNotFoundError) -> ProviderError:
    """A missing provider library, said with the command that installs it; other missing
    modules are bugs and raised as they are."""
    if (e.name or "").split(".")[0] not in _LIBRARIES[kind]:
        raise e
    return ProviderError(
        f"the {kind.title()} libraries are not installed (no module {e.name!r}): "
        f"pip install 'followup[{kind}]' (pipx: pipx install --force 'followup[{kind}]')")


def open_account(
    account: LocalAccount | GoogleAccount | MicrosoftAccount, config: Config
) -> Account:
    """Build the Account for one configured account. Raises AuthError when it needs connecting."""
    if isinstance(account, LocalAccount):
        from followup.providers.local import open_local_account

        return open_local_account(account, config)
    try:
        if isinstance(account, GoogleAccount):
            from followup.providers.google import open_google_account

            return open_google_account(account, config)
        from followup.providers.microsoft import open_microsoft_account

        return open_microsoft_account(account, config)
    except ModuleNotFoundError as e:
        raise missing_library(account.kind, e) from None


def credential_info(
    account: LocalAccount | GoogleAccount | MicrosoftAccount, config: Config
) -> CredentialInfo:
    """The state of an account's stored credentials, without any network call."""
    if isinstance(account, LocalAccount):
        return CredentialInfo(state="none", message="local files: no credentials needed")
    try:
        if isinstance(account, GoogleAccount):
            from followup.providers.google import google_credential_info

            return google_credential_info(account, config)
        from followup.providers.microsoft import microsoft_credential_info

        return microsoft_credential_info(account, config)
    except ModuleNotFoundError as e:
        raise missing_library(account.kind, e) from None


def token_path(config: Config, account_name: str, suffix: str = ".json") -> Path:
    """An account's token file: <state dir>/tokens/<account><suffix>; dir 0700, file 0600."""
    return config.state_path() / "tokens" / f"{account_name}{suffix}"

"""Graph subscriptions of a delegated Microsoft account (its user's own sign-in).

The renewal gets the account's token exactly as its syncs do: the sealed credential (the
msal cache `followup connect microsoft` left) unsealed into a private folder, the
Microsoft provider's MsalTokens on it (msal refreshes silently with the refresh token),
and the cache sealed again when msal changed it. No second way to sign in.

A grant found revoked or expired makes MsalTokens leave a `.reconnect` file, sealed with
the cache as the worker's syncs do; from then on every call for the account fails here at
once (its channels counted as failing), without asking the authority again every round,
until its user connects again (a new credential, without the mark).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from followup.company.store import AccountStore, token_files, write_token_files
from followup.errors import AuthError
from followup.push.providers import GraphChannels, TokenSource

# The token cache files of a delegated account (providers.microsoft.auth.TokenFiles).
MSAL_SUFFIXES = (".msal.json", ".msal.bin")
RECONNECT_SUFFIX = ".reconnect"


def is_delegated(files: dict[str, bytes]) -> bool:
    """Does this sealed credential hold a user's own msal sign-in?"""
    return any(suffix in files for suffix in MSAL_SUFFIXES)


class SignIn:
    """An account's delegated token source for one renewal: MsalTokens, or a refusal once
    the sign-in is known to need a reconnect (sealed mark, or refused in this round)."""

    def __init__(self, name: str, tokens: TokenSource | None, username: str = "") -> None:
        self.tokens = tokens
        self.username = username
        self.refused: str | None = None
        if tokens is None:
            self.refused = (
                f"Microsoft account {name!r} needs reconnect: run "
                f"`followup connect microsoft --account {name}`"
            )

    def access_token(self, *, force_refresh: bool = False) -> str:
        if self.refused is not None or self.tokens is None:
            raise AuthError(self.refused or "not connected")
        try:
            return self.tokens.access_token(force_refresh=force_refresh)
        except AuthError as e:  # revoked, expired, not connected: the same answer next call
            self.refused = str(e)
            raise


@contextmanager
def delegated_channels(
    accounts: AccountStore, name: str, sealed: dict[str, bytes] | None = None
) -> Iterator[GraphChannels]:
    """GraphChannels on me/... with `name`'s delegated token, for the block's duration;
    msal's changes to the cache are sealed again when it ends. `sealed`: the account's
    credential when the caller has just read it."""
    from followup.company.worker import private_dir_base
    from followup.config import MicrosoftAccount
    from followup.providers.microsoft.auth import MsalTokens
    from followup.providers.microsoft.graph import PinnedSession

    if sealed is None:
        sealed = accounts.credential(name)
    folder = Path(tempfile.mkdtemp(prefix="followup-push-", dir=private_dir_base()))
    try:
        config, cfg = accounts.config_for(name, ledger_url="postgresql://unused", state_dir=folder)
        if not isinstance(cfg, MicrosoftAccount):
            raise AuthError(f"{name} is not a Microsoft account")
        session = PinnedSession(cfg.ca_bundle, cfg.request_timeout)
        if RECONNECT_SUFFIX in sealed:  # nothing unsealed: no token will be asked for
            yield GraphChannels(SignIn(name, None), cfg.graph_url, http=session)
            return
        tokens_dir = folder / "tokens"
        write_token_files(tokens_dir, name, sealed)
        try:
            msal_tokens = MsalTokens(cfg, config, session)
            # The same session for the authority and Graph, as the provider does.
            sign_in = SignIn(name, msal_tokens, msal_tokens.username)
            yield GraphChannels(sign_in, cfg.graph_url, http=session)
        finally:
            _reseal(accounts, name, sealed, token_files(tokens_dir, name))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _reseal(
    accounts: AccountStore, name: str, sealed: dict[str, bytes], fresh: dict[str, bytes]
) -> None:
    """Store what msal changed (a new refresh token, the `.reconnect` mark), unless the
    credential changed meanwhile: a sync's refresh or a reconnect is as new, and must not
    be overwritten with this older cache (Entra does not revoke a refresh token when it
    is used, so either cache keeps working)."""
    if fresh == sealed or not fresh:
        return
    if accounts.credential(name) == sealed:
        accounts.store_credential(name, fresh)

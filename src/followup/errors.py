"""Errors providers raise, by what the engine should do about them."""

from __future__ import annotations


class FollowupError(Exception):
    """Base of the errors this package raises on purpose."""


class ProviderError(FollowupError):
    """A provider call failed in a way that retrying the same call will not fix (4xx, bad data)."""


class TransientError(ProviderError):
    """Worth retrying later: 429, 5xx, timeouts, a connection dropped.

    `retry_after` is the server's Retry-After in seconds when it sent one.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthError(ProviderError):
    """The account needs the user: a revoked or expired grant (invalid_grant,
    interaction_required), a missing token. The account is marked "needs reconnect" and
    skipped until then; other accounts go on."""


class InputError(FollowupError):
    """An input file or message that cannot be read; it is skipped with this reason."""

"""Errors providers raise, by what the engine should do about them."""

from __future__ import annotations

import errno
import os


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


class EnvironmentFailure(TransientError):
    """The host or the network is at fault, not the write: a full, read-only or failing disk,
    an output folder we may not write, an unreachable ledger or network.

    Retrying the same write cannot help until the environment is fixed, and it was not the
    write's fault: the engine backs the whole account off and gives the attempt back, so no
    write is given up because the disk was full for a night."""


# OSError numbers that say "this machine cannot write there now", whatever is written.
# ENOENT/ENOTDIR: an output folder that is gone (unmounted, moved) is the setup's problem too.
ENVIRONMENT_ERRNOS = frozenset({
    errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO,
    errno.ENOENT, errno.ENOTDIR,
})


def environment_failure(error: BaseException) -> EnvironmentFailure | None:
    """`error` as an EnvironmentFailure when it is one (or an OSError of the environment's
    kind), else None. The message names the errno and the path, never file contents."""
    if isinstance(error, EnvironmentFailure):
        return error
    if isinstance(error, OSError) and error.errno in ENVIRONMENT_ERRNOS:
        where = f": {error.filename}" if error.filename else ""
        return EnvironmentFailure(f"{os.strerror(error.errno)}{where}")
    return None

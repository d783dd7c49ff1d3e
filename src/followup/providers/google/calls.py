"""Executing API calls: bounded, jittered retries for what is safe to repeat; nothing else.

googleapiclient's own retry (`num_retries`) stays 0: it ignores Retry-After and repeats POSTs.
Here tenacity retries reads on 429, 403 rate limits, 5xx and lost connections. A create is
never repeated blindly: before each new attempt the caller's `find` looks the key up, so a
create whose answer was lost is found instead of being made twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from googleapiclient.errors import HttpError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from followup.errors import AuthError, ProviderError, TransientError
from followup.metrics import record_retry
from followup.providers.google.transport import PROVIDER, ConnectionLost, SessionHttp

log = structlog.get_logger(__name__)

T = TypeVar("T")

RATE_LIMIT_REASONS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"}
)
# A Retry-After longer than this is not slept through inside a cycle: the engine reschedules.
MAX_INLINE_RETRY_AFTER = 60.0


def error_reasons(e: HttpError) -> set[str]:
    """The `reason` strings of a Google error body (errors[].reason, details[].reason, status)."""
    try:
        data = json.loads(e.content.decode("utf-8"))
        err = data["error"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return set()
    if not isinstance(err, dict):
        return set()
    reasons = {str(x.get("reason")) for x in err.get("errors", []) if isinstance(x, dict)}
    reasons |= {str(x.get("reason")) for x in err.get("details", []) if isinstance(x, dict)}
    if isinstance(err.get("status"), str):
        reasons.add(err["status"])
    reasons.discard("None")
    return reasons


def status_of(e: BaseException) -> int | None:
    return int(e.resp.status) if isinstance(e, HttpError) else None


def is_retryable(e: BaseException) -> bool:
    if isinstance(e, ConnectionLost):
        return True
    if not isinstance(e, HttpError):
        return False
    status = int(e.resp.status)
    if status == 429 or status >= 500:
        return True
    return status == 403 and bool(error_reasons(e) & RATE_LIMIT_REASONS)


def retry_after(e: BaseException | None) -> float | None:
    """The server's Retry-After in seconds (delta form; an HTTP date is ignored)."""
    if not isinstance(e, HttpError):
        return None
    value = e.resp.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _reason(e: BaseException | None) -> str:
    if isinstance(e, HttpError):
        return str(e.resp.status)
    return "connection" if isinstance(e, ConnectionLost) else type(e).__name__


@dataclass
class Caller:
    """Runs googleapiclient requests through one SessionHttp with the account's retry policy."""

    http: SessionHttp
    max_attempts: int = 5
    backoff: float = 1.0  # first wait, doubled per attempt, full jitter
    max_backoff: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        after = retry_after(exc)
        if after is not None:
            return after
        jitter = wait_random_exponential(multiplier=self.backoff, max=self.max_backoff)
        return float(jitter(state))

    def _stop(self, state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        after = retry_after(exc)
        if after is not None and after > MAX_INLINE_RETRY_AFTER:
            return True  # too long to wait inside a cycle
        return bool(stop_after_attempt(self.max_attempts)(state))

    def _before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        record_retry(PROVIDER, _reason(exc))
        log.info(
            "google.retry",
            reason=_reason(exc),
            attempt=state.attempt_number,
            wait=round(state.upcoming_sleep, 3),
        )

    def _retrying(self) -> Retrying:
        return Retrying(
            stop=self._stop,
            wait=self._wait,
            retry=retry_if_exception(is_retryable),
            sleep=self.sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )

    def _execute(self, request: Any) -> Any:
        return request.execute(http=self.http.labelled(request.methodId), num_retries=0)

    def read(self, request: Any) -> Any:
        """An idempotent call (GET, freeBusy, a PATCH that sets fixed values): retried."""
        try:
            return self._retrying()(self._execute, request)
        except Exception as e:
            mapped = _exhausted(e, request)
            if mapped is e:
                raise
            raise mapped from e

    def once(self, request: Any) -> Any:
        """A call that must not be repeated without a look-up: one attempt, errors as they are."""
        return self._execute(request)

    def create(self, make: Callable[[], Any], find: Callable[[], T | None]) -> Any | T:
        """Create something that carries a key, exactly once.

        Attempt 1 creates. A retryable failure (429, 5xx, lost answer) leads to a wait, then
        `find()` (itself retried) before the next attempt: found -> returned as it is.
        """
        request = None
        try:
            for attempt in self._retrying():
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        found = find()
                        if found is not None:
                            return found
                    request = make()
                    return self._execute(request)
        except Exception as e:
            mapped = _exhausted(e, request)
            if mapped is e:
                raise
            raise mapped from e
        raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover


def _exhausted(e: Exception, request: Any) -> Exception:
    """Retries ran out (or were not allowed): a retryable error becomes a TransientError."""
    if not is_retryable(e):
        return e
    name = getattr(request, "methodId", None) or "google call"
    if isinstance(e, ConnectionLost):  # still no answer: the network's fault, not the write's
        return ConnectionLost(f"{name}: gave up after retries ({e})")
    return TransientError(f"{name}: gave up after retries ({_reason(e)})", retry_after(e))


SCOPE_REASONS = frozenset({"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"})


def http_error(e: HttpError, what: str) -> ProviderError:
    """A Google error that retrying will not fix, as the engine's ProviderError; one that
    only the user can fix (a grant without the permission, credentials refused even after a
    refresh) as AuthError, so the account is marked "needs reconnect"."""
    found = error_reasons(e)
    reasons = ",".join(sorted(found)) or e.reason
    status = int(e.resp.status)
    if status == 401 or (status == 403 and found & SCOPE_REASONS):
        return AuthError(
            f"{what}: Google answered {status} ({reasons}): reconnect the account and allow "
            "every permission (`followup connect google`)"
        )
    return ProviderError(f"{what}: Google answered {status} ({reasons})")

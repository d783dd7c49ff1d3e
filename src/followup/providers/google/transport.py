"""The HTTP transport under googleapiclient: requests via google-auth, never httplib2.

googleapiclient's default transport, httplib2, re-sends a request by itself when a connection
drops after the server applied it (it takes that for a stale keep-alive socket), so one
drafts.create can become two drafts. requests (urllib3 with retries off) never re-sends; this
adapter gives googleapiclient the `request(uri, method, body, headers) -> (response, content)`
interface it expects on top of google.auth's AuthorizedSession, which adds the bearer token and
refreshes it (once, on 401) by itself.

Every request is counted in followup.metrics; none is logged with its URL, body or headers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import requests
import structlog
from google.auth.exceptions import RefreshError, TransportError

from followup.errors import AuthError, EnvironmentFailure, TransientError
from followup.metrics import record_request
from followup.providers.google._gauth import AuthorizedSession, Request

log = structlog.get_logger(__name__)

PROVIDER = "google"


class ConnectionLost(EnvironmentFailure):
    """No HTTP answer: the connection dropped or timed out. A write may or may not be applied.
    The network's fault, not the write's: the account pauses, no attempt is spent."""


class Response(dict[str, str]):
    """What googleapiclient reads from a response: `status`, `reason` and lower-case headers."""

    def __init__(self, status: int, reason: str, headers: Mapping[str, str]) -> None:
        super().__init__({k.lower(): v for k, v in headers.items()})
        self.status = status
        self.reason = reason
        self["status"] = str(status)


class _CountingRequest(Request):  # type: ignore[misc]  # Request is Any: see _gauth
    """google.auth's token-refresh transport, counted like every other request."""

    def __call__(self, url: str, method: str = "GET", *args: Any, **kwargs: Any) -> Any:
        try:
            response = super().__call__(url, method, *args, **kwargs)
        except TransportError:
            record_request(PROVIDER, "oauth2.token", "error")
            raise
        record_request(PROVIDER, "oauth2.token", response.status)
        return response


class SessionHttp:
    """A googleapiclient `http` object backed by an AuthorizedSession (no retries of its own).

    `endpoint` names the API method in metrics (googleapiclient's methodId); `labelled`
    returns a view of the same session with another name, used per call.
    """

    def __init__(
        self,
        session: Any,
        *,
        timeout: float,
        on_token_change: Callable[[], None] | None = None,
        on_refused: Callable[[str], None] | None = None,
        endpoint: str = "other",
    ) -> None:
        self._session = session
        self._timeout = timeout
        self._on_token_change = on_token_change
        self._on_refused = on_refused
        self.endpoint = endpoint

    @classmethod
    def for_credentials(
        cls,
        credentials: Any,
        *,
        timeout: float,
        on_token_change: Callable[[], None] | None = None,
        on_refused: Callable[[str], None] | None = None,
    ) -> SessionHttp:
        session = AuthorizedSession(credentials, auth_request=_CountingRequest())
        return cls(
            session, timeout=timeout, on_token_change=on_token_change, on_refused=on_refused
        )

    def labelled(self, endpoint: str | None) -> SessionHttp:
        return SessionHttp(
            self._session,
            timeout=self._timeout,
            on_token_change=self._on_token_change,
            on_refused=self._on_refused,
            endpoint=endpoint or "other",
        )

    def request(
        self,
        uri: str,
        method: str = "GET",
        body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        redirections: int = 5,
        connection_type: object = None,
    ) -> tuple[Response, bytes]:
        del redirections, connection_type  # httplib2 arguments with no meaning here
        credentials = self._session.credentials
        token_before = credentials.token
        try:
            r = self._session.request(
                method, uri, data=body, headers=dict(headers or {}), timeout=self._timeout
            )
        except RefreshError as e:
            record_request(PROVIDER, self.endpoint, "auth_error")
            error = _auth_error(e)
            if isinstance(error, AuthError) and self._on_refused is not None:
                self._on_refused(_summary(e))
            raise error from None
        except (requests.Timeout, requests.ConnectionError, TransportError) as e:
            record_request(PROVIDER, self.endpoint, "error")
            # The exception text can hold the URL (with ids and query): log only its type.
            raise ConnectionLost(f"{self.endpoint}: no answer ({type(e).__name__})") from None
        finally:
            if credentials.token != token_before and self._on_token_change is not None:
                self._on_token_change()
        record_request(PROVIDER, self.endpoint, r.status_code)
        return Response(r.status_code, r.reason or "", r.headers), r.content

    def close(self) -> None:
        self._session.close()


def _auth_error(e: RefreshError) -> Exception:
    """invalid_grant and friends need the user; a refresh that failed in transit does not."""
    retryable = bool(getattr(e, "retryable", False))
    if retryable:
        return TransientError("token refresh failed temporarily")
    return AuthError(
        f"Google refused the stored grant ({_summary(e)}): run `followup connect google`"
    )


def _summary(e: RefreshError) -> str:
    """Google's error code and description, e.g. "invalid_grant: Token has been expired or
    revoked."; the raw response (second arg) is never shown, and a long body is cut."""
    summary = str(e.args[0]) if e.args else "refresh failed"
    return summary[:200]

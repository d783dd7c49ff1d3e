"""The one place that speaks HTTP to Microsoft Graph.

Every Graph call of this provider goes through `GraphClient.request` (or `batch`), which:
- adds the bearer token, and refreshes it once on a 401;
- allows at most 4 requests in flight per mailbox (Outlook's concurrency limit);
- retries 429 and 503 after their Retry-After, other 5xx and dropped connections with jittered
  exponential backoff (tenacity), a bounded number of times, then raises TransientError;
- never re-sends a request that may already have been applied unless the caller says it is
  safe (GETs, PATCH/DELETE, creates that carry a transactionId);
- counts every request in followup.metrics and logs without URLs, tokens or bodies.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol
from urllib.parse import quote

import requests
import structlog
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from followup.errors import AuthError, EnvironmentFailure, ProviderError, TransientError
from followup.metrics import record_request, record_retry

log = structlog.get_logger(__name__)

PROVIDER = "microsoft"
MAX_CONCURRENT = 4  # Outlook: 4 concurrent requests per app and mailbox
BATCH_LIMIT = 20  # Graph JSON batching: at most 20 requests per $batch
# A Retry-After longer than this is not waited out inside a call: the engine retries later.
MAX_RETRY_AFTER = 120.0
_IDEMPOTENT = frozenset({"GET", "PUT", "PATCH", "DELETE"})
# Statuses where the server says it did not process the request: safe to send again.
_NOT_APPLIED = frozenset({429, 503})
_SERVER_ERRORS = frozenset({500, 502, 504})


class TokenSource(Protocol):
    def access_token(self, *, force_refresh: bool = False) -> str: ...


class GraphError(ProviderError):
    """Graph answered with an error that retrying the same request will not fix."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"Graph {status} {code}: {message}")
        self.status = status
        self.code = code


@dataclass(frozen=True)
class GraphResponse:
    status: int
    body: Any  # parsed JSON; {} when there was none
    headers: Mapping[str, str] = field(default_factory=dict)
    content: bytes = b""

    @property
    def error_code(self) -> str:
        err = self.body.get("error") if isinstance(self.body, dict) else None
        return str(err.get("code", "")) if isinstance(err, dict) else ""

    def raise_for_error(self) -> None:
        if self.status >= 400:
            err = self.body.get("error") if isinstance(self.body, dict) else None
            message = str(err.get("message", "")) if isinstance(err, dict) else ""
            raise GraphError(self.status, self.error_code, message[:200])


@dataclass(frozen=True)
class BatchRequest:
    """One request inside a $batch; `url` is relative to the version root ("/me/...")."""

    method: str
    url: str
    endpoint: str  # short route name for metrics and logs
    body: Any = None
    headers: Mapping[str, str] | None = None


class _Retry(Exception):
    """Internal: this attempt failed in a way worth another try."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class PinnedSession(requests.Session):
    """A requests Session whose CA bundle, when set, beats REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE.

    requests lets those variables replace a session's `verify` on every request; msal only
    sets the session's `verify`, so a configured bundle would be silently ignored.
    """

    def __init__(self, ca_bundle: str | None = None, timeout: float = 30.0) -> None:
        super().__init__()
        self._ca_bundle = ca_bundle
        self._timeout = timeout
        if ca_bundle:
            self.verify = ca_bundle

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> Any:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if self._ca_bundle and verify in (None, True):
            settings["verify"] = self._ca_bundle
        return settings

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After") or headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _parse_body(resp: requests.Response) -> Any:
    if not resp.content:
        return {}
    if "json" not in resp.headers.get("Content-Type", ""):
        return {}
    try:
        return resp.json()
    except ValueError:
        return {}


class GraphClient:
    """Graph requests for one mailbox."""

    def __init__(
        self,
        base_url: str,
        tokens: TokenSource,
        *,
        session: requests.Session | None = None,
        max_attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
        max_backoff: float = 30.0,
        mailbox: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # An app-only token has no /me: paths go to /users/{mailbox} instead (company
        # mode's organisation-wide connect, push.org_microsoft).
        self._me = f"/users/{quote(mailbox, safe='@')}" if mailbox else None
        self._tokens = tokens
        self._session = session or PinnedSession()
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._backoff = wait_random_exponential(multiplier=0.5, max=max_backoff)
        self._slots = threading.BoundedSemaphore(MAX_CONCURRENT)

    # --- URLs ----------------------------------------------------------------------------

    def url(self, path_or_url: str) -> str:
        """An absolute URL under our Graph base; links from Graph must stay under it too,
        so that a tampered cursor cannot send the bearer token elsewhere."""
        if path_or_url.startswith("/"):
            return self.base_url + self.path(path_or_url)
        if path_or_url.startswith(self.base_url + "/"):
            return path_or_url
        raise ProviderError("refusing to follow a Graph link outside the configured graph_url")

    def path(self, path: str) -> str:
        """`/me/...` as this client addresses the mailbox."""
        if self._me and (path == "/me" or path.startswith(("/me/", "/me?"))):
            return self._me + path[3:]
        return path

    # --- single requests -----------------------------------------------------------------

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        endpoint: str,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        replay_safe: bool | None = None,
        accept: Iterable[int] = (),
    ) -> GraphResponse:
        """Send one request; return the response when it is 2xx or its status is in `accept`.

        `replay_safe`: may the request be sent again after a dropped connection or a 5xx,
        when the server may already have applied it? Default: only for idempotent methods.
        """
        url = self.url(path_or_url)
        safe = method in _IDEMPOTENT if replay_safe is None else replay_safe
        accepted = frozenset(accept)

        def attempt() -> GraphResponse:
            resp = self._send(method, url, endpoint, params, json_body, headers, safe,
                              accepted)
            if resp.status < 400 or resp.status in accepted:
                return resp
            resp.raise_for_error()
            return resp  # unreachable: raise_for_error raised

        return self._with_retries(attempt, endpoint)

    def get(self, path_or_url: str, *, endpoint: str, **kw: Any) -> GraphResponse:
        return self.request("GET", path_or_url, endpoint=endpoint, **kw)

    def pages(
        self, path_or_url: str, *, endpoint: str, params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None, limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """All items of a collection, following @odata.nextLink (at most `limit` items)."""
        items: list[dict[str, Any]] = []
        resp = self.get(path_or_url, endpoint=endpoint, params=params, headers=headers)
        while True:
            items.extend(resp.body.get("value", []))
            link = resp.body.get("@odata.nextLink")
            if not link or len(items) >= limit:
                return items[:limit]
            resp = self.get(link, endpoint=endpoint, headers=headers)

    def _send(
        self, method: str, url: str, endpoint: str, params: Mapping[str, str] | None,
        json_body: Any, headers: Mapping[str, str] | None, replay_safe: bool,
        accepted: frozenset[int] = frozenset(),
    ) -> GraphResponse:
        for refreshed in (False, True):
            h = {"Authorization": "Bearer " + self._tokens.access_token(force_refresh=refreshed)}
            prefer = ['IdType="ImmutableId"']  # ids survive moves (a draft that is sent)
            for k, v in (headers or {}).items():
                if k.lower() == "prefer":
                    prefer.append(v)
                else:
                    h[k] = v
            h["Prefer"] = ", ".join(prefer)
            with self._slots:
                try:
                    raw = self._session.request(
                        method, url, params=params, json=json_body, headers=h
                    )
                except requests.RequestException as e:
                    record_request(PROVIDER, endpoint, "error")
                    reason = type(e).__name__
                    log.info("graph.connection_failed", endpoint=endpoint, error=reason)
                    if replay_safe:
                        raise _Retry(reason) from None
                    raise EnvironmentFailure(  # the network's fault: no attempt spent
                        f"Graph {endpoint}: connection failed ({reason}); the request may "
                        "have been applied, so it is not sent again blindly"
                    ) from None
            record_request(PROVIDER, endpoint, raw.status_code)
            log.debug("graph.request", endpoint=endpoint, method=method, status=raw.status_code)
            resp = GraphResponse(raw.status_code, _parse_body(raw), raw.headers, raw.content)
            if resp.status == 401 and not refreshed:
                continue  # the token may have been revoked or expired early: refresh once
            if resp.status == 401:
                raise AuthError(
                    "Microsoft Graph refused the token; needs reconnect: "
                    "run `followup connect microsoft`"
                )
            if resp.status not in accepted:
                self._raise_if_retryable(resp, endpoint, replay_safe)
            return resp
        raise AssertionError("unreachable")

    @staticmethod
    def _raise_if_retryable(resp: GraphResponse, endpoint: str, replay_safe: bool) -> None:
        if resp.status in _NOT_APPLIED or (replay_safe and resp.status in _SERVER_ERRORS):
            after = _retry_after(resp.headers)
            if after is not None and after > MAX_RETRY_AFTER:
                raise TransientError(f"Graph {endpoint}: throttled ({resp.status})", after)
            raise _Retry(str(resp.status), after)
        if resp.status in _SERVER_ERRORS:
            raise TransientError(
                f"Graph {endpoint}: server error {resp.status}; the request may have been "
                "applied, so it is not sent again blindly"
            )

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retry) and exc.retry_after is not None:
            return exc.retry_after
        return float(self._backoff(state))

    def _with_retries(self, fn: Callable[[], GraphResponse], endpoint: str) -> GraphResponse:
        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            reason = exc.reason if isinstance(exc, _Retry) else "error"
            record_retry(PROVIDER, reason)
            log.info("graph.retry", endpoint=endpoint, reason=reason,
                     attempt=state.attempt_number)

        retrying = Retrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(_Retry),
            sleep=self._sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return retrying(fn)
        except _Retry as e:
            raise TransientError(
                f"Graph {endpoint}: still failing after {self._max_attempts} attempts "
                f"({e.reason})", e.retry_after,
            ) from None

    # --- $batch ----------------------------------------------------------------------------

    def batch(self, requests_: Sequence[BatchRequest]) -> list[GraphResponse]:
        """Send GET-style requests in $batch envelopes of at most 20; answers in input order.

        Items answered 429/503 (or 5xx) inside the 200 envelope are sent again, alone with the
        others still pending, after their Retry-After. Only for requests safe to replay.
        """
        results: dict[int, GraphResponse] = {}
        for start in range(0, len(requests_), BATCH_LIMIT):
            chunk = dict(enumerate(requests_[start:start + BATCH_LIMIT], start))
            self._batch_chunk(chunk, results)
        return [results[i] for i in range(len(requests_))]

    def _batch_chunk(self, chunk: dict[int, BatchRequest], results: dict[int, GraphResponse]
                     ) -> None:
        pending = dict(chunk)

        def attempt() -> GraphResponse:
            payload = {"requests": [_batch_item(i, r, self.path(r.url))
                                    for i, r in pending.items()]}
            envelope = self._send("POST", self.url("/$batch"), "$batch", None, payload, None, True)
            envelope.raise_for_error()
            waits: list[float] = []
            for item in envelope.body.get("responses", []):
                i = int(item.get("id", -1))
                if i not in pending:
                    continue
                status = int(item.get("status", 0))
                headers = {str(k): str(v) for k, v in (item.get("headers") or {}).items()}
                record_request(PROVIDER, pending[i].endpoint, status)
                if status in _NOT_APPLIED or status in _SERVER_ERRORS:
                    after = _retry_after(headers)
                    if after is not None:
                        waits.append(after)
                    continue
                body = item.get("body")
                results[i] = GraphResponse(status, body if body is not None else {}, headers)
                del pending[i]
            if pending:
                raise _Retry("batch-item", max(waits) if waits else None)
            return envelope

        self._with_retries(attempt, "$batch")


def _batch_item(i: int, r: BatchRequest, url: str) -> dict[str, Any]:
    item: dict[str, Any] = {"id": str(i), "method": r.method, "url": url}
    headers = dict(r.headers or {})
    if r.body is not None:
        item["body"] = r.body
        headers["Content-Type"] = "application/json"
    if headers:
        item["headers"] = headers
    return item


def dump_json(value: Any) -> str:
    """Compact JSON for cursors."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)

"""Per-account health, shared between the daemon loop and the HTTP endpoint.

The daemon writes it after each attempt; /healthz, STATUS= and the metrics read it. A lock
keeps readers on the HTTP thread from seeing half an update.
"""

from __future__ import annotations

import random
import threading
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from followup import metrics


class Health(StrEnum):
    STARTING = "starting"  # no attempt finished yet
    OK = "ok"  # the last cycle completed
    FAILING = "failing"  # the last attempt failed; retried with back-off
    NEEDS_RECONNECT = "needs_reconnect"  # the grant is gone: `followup connect` again


HEALTHY = frozenset({Health.STARTING, Health.OK})


@dataclass(frozen=True)
class AccountHealth:
    name: str
    kind: str
    state: Health = Health.STARTING
    last_success: datetime | None = None
    last_error: str | None = None
    failures: int = 0  # consecutive failed attempts
    next_attempt: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("last_success", "next_attempt"):
            d[k] = d[k].isoformat() if d[k] else None
        return d


def backoff(failures: int, *, base: float, cap: float) -> timedelta:
    """Exponential back-off with +-20% jitter, so accounts failing together spread out."""
    delay = min(cap, base * 2 ** max(0, failures - 1))
    return timedelta(seconds=delay * random.uniform(0.8, 1.2))  # noqa: S311 - not crypto


class HealthBoard:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[str, AccountHealth] = {}

    def reset(self, accounts: list[tuple[str, str]]) -> None:
        """Keep what is known of accounts still configured; forget the others."""
        with self._lock:
            old = self._accounts
            self._accounts = {
                n: replace(old[n], kind=k, failures=0, next_attempt=None) if n in old
                else AccountHealth(n, k)
                for n, k in accounts
            }
            for gone in set(old) - set(self._accounts):
                metrics.ACCOUNT_HEALTHY.remove(gone)
        for n, _ in accounts:
            self._export(n)

    def get(self, name: str) -> AccountHealth:
        with self._lock:
            return self._accounts[name]

    def succeeded(self, name: str, at: datetime, next_attempt: datetime) -> None:
        with self._lock:
            self._accounts[name] = replace(
                self._accounts[name], state=Health.OK, last_success=at, last_error=None,
                failures=0, next_attempt=next_attempt,
            )
        self._export(name)

    def failed(self, name: str, error: str, next_attempt: datetime, *, reconnect: bool) -> None:
        with self._lock:
            h = self._accounts[name]
            self._accounts[name] = replace(
                h, state=Health.NEEDS_RECONNECT if reconnect else Health.FAILING,
                last_error=error, failures=h.failures + 1, next_attempt=next_attempt,
            )
        self._export(name)

    def snapshot(self) -> list[AccountHealth]:
        with self._lock:
            return list(self._accounts.values())

    def any_healthy(self) -> bool:
        return any(a.state in HEALTHY for a in self.snapshot())

    def summary(self) -> str:
        """One line for systemd's STATUS=: counts by state."""
        states = [a.state for a in self.snapshot()]
        parts = [f"{states.count(s)} {s.value.replace('_', ' ')}" for s in Health if s in states]
        return f"{len(states)} account{'s' if len(states) != 1 else ''}: " + ", ".join(parts)

    def _export(self, name: str) -> None:
        with self._lock:
            h = self._accounts.get(name)
        if h is not None:
            metrics.ACCOUNT_HEALTHY.labels(account=name).set(1 if h.state in HEALTHY else 0)

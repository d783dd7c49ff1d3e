"""Prometheus metrics, one registry for the whole process.

Providers and the engine record here; the service exposes it on /metrics when configured.
Names follow Prometheus conventions (base units, _total for counters).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.metrics_core import Metric

REGISTRY = CollectorRegistry(auto_describe=True)

CYCLES = Counter(
    "followup_cycles_total", "Cycles run, by account and result.", ["account", "result"],
    registry=REGISTRY,
)
REQUESTS = Counter(
    "followup_provider_requests_total",
    "HTTP requests made to providers, by provider, endpoint and status code.",
    ["provider", "endpoint", "status"],
    registry=REGISTRY,
)
RETRIES = Counter(
    "followup_provider_retries_total", "Provider calls retried, by provider and reason.",
    ["provider", "reason"], registry=REGISTRY,
)
WRITES = Counter(
    "followup_writes_total", "Writes applied, by kind and outcome.", ["kind", "outcome"],
    registry=REGISTRY,
)
LAST_SYNC = Gauge(
    "followup_last_sync_timestamp_seconds", "Unix time of the last successful sync per account.",
    ["account"], registry=REGISTRY,
)
PENDING = Gauge(
    "followup_pending_touches", "Writes waiting to be applied, per account.", ["account"],
    registry=REGISTRY,
)
ACCOUNT_HEALTHY = Gauge(
    "followup_account_healthy",
    "1 when the account's last cycle completed (or none has finished yet), 0 when it is "
    "failing or needs reconnecting.",
    ["account"], registry=REGISTRY,
)
NEXT_WAKE = Gauge(
    "followup_next_wake_timestamp_seconds", "Unix time the daemon will next run a cycle.",
    registry=REGISTRY,
)


def record_request(provider: str, endpoint: str, status: int | str) -> None:
    """Count one provider request. `endpoint` is a short route name, never a URL with ids."""
    REQUESTS.labels(provider=provider, endpoint=endpoint, status=str(status)).inc()


def record_retry(provider: str, reason: str) -> None:
    RETRIES.labels(provider=provider, reason=reason).inc()


class _Only:
    """A collector that shows metrics registered elsewhere (a metric has one registry)."""

    def __init__(self, *metrics: Counter) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        for m in self.metrics:
            yield from m.collect()


# What a company-mode worker exposes of its own: the counters without an account label
# (a worker syncs thousands of accounts; per-account series belong to the single-user daemon).
SHARED = CollectorRegistry(auto_describe=False)
SHARED.register(_Only(REQUESTS, RETRIES, WRITES))

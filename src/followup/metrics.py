"""Prometheus metrics, one registry for the whole process.

Providers and the engine record here; the service exposes it on /metrics when configured.
Names follow Prometheus conventions (base units, _total for counters).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

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

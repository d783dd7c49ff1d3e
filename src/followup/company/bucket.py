"""A token bucket per provider and tenant, in PostgreSQL, shared by every worker.

Providers cap requests per OAuth project (Google: per-minute and per-day quotas; Graph: per
app and tenant). Each sync takes tokens before it starts; a sync that finds too few is not
run but put off (the account is marked throttled until the bucket has refilled enough), so a
burst of due accounts spreads out below the quota instead of meeting a wall of 429s.

One UPDATE decides atomically: refill by elapsed time (the database clock) up to the
capacity, then take, only if enough is there.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Engine


@dataclass(frozen=True)
class Rate:
    per_second: float  # refill rate, requests per second
    burst: float  # capacity


# Defaults well below the providers' per-project quotas: Google Calendar's daily threshold
# of about 1M requests is 11.6/s on average; Graph throttles per app and tenant at far more.
DEFAULT_RATES = {
    "google": Rate(per_second=10.0, burst=600.0),
    "microsoft": Rate(per_second=20.0, burst=1200.0),
    "local": Rate(per_second=1000.0, burst=10000.0),
}

# The tokens there now: refilled by the time since the last update, up to the capacity.
_TAKE = text(
    "UPDATE company_buckets SET tokens = LEAST(:burst, tokens + EXTRACT(EPOCH FROM "
    "(now() - updated_at)) * :rate) - :n, updated_at = now() "
    "WHERE provider = :p AND tenant = :t AND LEAST(:burst, tokens + EXTRACT(EPOCH FROM "
    "(now() - updated_at)) * :rate) >= :n RETURNING tokens")
_HAVE = text(
    "SELECT LEAST(:burst, tokens + EXTRACT(EPOCH FROM (now() - updated_at)) * :rate) "
    "FROM company_buckets WHERE provider = :p AND tenant = :t")
_CHARGE = text(
    "UPDATE company_buckets SET tokens = LEAST(:burst, tokens + EXTRACT(EPOCH FROM "
    "(now() - updated_at)) * :rate) - :n, updated_at = now() "
    "WHERE provider = :p AND tenant = :t")


class Buckets:
    def __init__(self, engine: Engine, rates: dict[str, Rate] | None = None) -> None:
        self.engine = engine
        self.rates = rates or DEFAULT_RATES

    def take(self, provider: str, tenant: str, n: float = 1.0) -> float:
        """Take n tokens: 0.0 when taken, else the seconds until n will be there (nothing
        is taken then)."""
        rate = self.rates.get(provider) or DEFAULT_RATES["local"]
        args = {"p": provider, "t": tenant, "n": n, "rate": rate.per_second,
                "burst": rate.burst}
        with self.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO company_buckets (provider, tenant, tokens, updated_at) "
                "VALUES (:p, :t, :burst, now()) ON CONFLICT DO NOTHING"), args)
            left = conn.scalar(_TAKE, args)
            if left is not None:
                return 0.0
            have = float(conn.scalar(_HAVE, args))
        return max(0.0, (n - have) / rate.per_second)

    def charge(self, provider: str, tenant: str, n: float) -> None:
        """Take n tokens after the fact (what a sync spent beyond its first request); the
        bucket may go below zero, and later syncs wait for it to refill."""
        if n <= 0:
            return
        rate = self.rates.get(provider) or DEFAULT_RATES["local"]
        with self.engine.begin() as conn:
            conn.execute(_CHARGE,
                {"p": provider, "t": tenant, "n": n, "rate": rate.per_second,
                 "burst": rate.burst})

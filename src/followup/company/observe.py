"""What an operator watches in company mode: the queue, the lag from due time to draft, the
accounts (throttled, failing, needing reconnection), the push channels. Read by `followup
admin status [--json | --prometheus]` and by a worker's /metrics and /healthz
(`followup worker --metrics-listen`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from followup.company.store import AccountStore


def company_status(engine: Engine, store: AccountStore) -> dict[str, Any]:
    """What an operator watches: the queue, the lag from due time to draft, the accounts."""
    view: dict[str, Any] = dict(store.counts())
    with engine.begin() as conn:
        queue = conn.execute(text(
            "SELECT count(*) FILTER (WHERE status = 'todo' AND (scheduled_at IS NULL OR "
            "scheduled_at <= now())), count(*) FILTER (WHERE status = 'todo'), "
            "count(*) FILTER (WHERE status = 'doing'), "
            "count(*) FILTER (WHERE status = 'failed'), "
            "EXTRACT(EPOCH FROM now() - min(COALESCE(scheduled_at, (SELECT min(e.at) FROM "
            "procrastinate_events e WHERE e.job_id = j.id))) FILTER (WHERE status = 'todo' "
            "AND (scheduled_at IS NULL OR scheduled_at <= now()))) "
            "FROM procrastinate_jobs j")).one() if _has_queue(conn) else None
        lag = conn.execute(text(
            "SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY s), "
            "percentile_cont(0.95) WITHIN GROUP (ORDER BY s), max(s) FROM (SELECT "
            "EXTRACT(EPOCH FROM done_at - due) AS s FROM writes WHERE kind = 'draft' AND "
            "state = 'done' AND done_at > now() - interval '1 hour') d")).one()
    if queue is not None:
        view.update(queue_ready=queue[0], queue_waiting=queue[1], queue_running=queue[2],
                    queue_failed=queue[3],
                    oldest_ready_seconds=round(float(queue[4]), 1) if queue[4] else 0.0)
    from followup.push.channels import push_status  # channels expiring or failing, if any

    view.update(push_status(engine))
    view.update(drafts_last_hour=lag[0],
                due_to_draft_p50_seconds=_round(lag[1]), due_to_draft_p95_seconds=_round(lag[2]),
                due_to_draft_max_seconds=_round(lag[3]))
    return view


def _has_queue(conn: Any) -> bool:
    return conn.scalar(text("SELECT to_regclass('procrastinate_jobs')")) is not None


def _round(v: Any) -> float | None:
    return None if v is None else round(float(v), 1)


def prometheus_text(view: dict[str, Any]) -> str:
    lines = []
    for key, value in view.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            lines.append(f"# TYPE followup_company_{key} gauge")
            lines.append(f"followup_company_{key} {value}")
    return "\n".join(lines) + "\n"


def worker_health(engine: Engine) -> tuple[bool, dict[str, Any]]:
    """A worker is healthy while it can reach PostgreSQL (its queue and its ledger)."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as e:
        return False, {"status": "unhealthy", "database": type(e).__name__}
    return True, {"status": "ok", "database": "ok"}


def worker_metrics(engine: Engine, store: AccountStore) -> bytes:
    """The company view as gauges, and this process's provider request, retry and write
    counters (not its per-account series: thousands of accounts would be thousands of
    series per worker)."""
    from prometheus_client import generate_latest

    from followup.metrics import SHARED

    return prometheus_text(company_status(engine, store)).encode() + generate_latest(SHARED)

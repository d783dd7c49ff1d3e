"""The procrastinate app: one task per account sync, and how wake-ups are queued.

`sync_account(account_id, reason)` is always deferred with lock = queueing_lock = the
account: the lock lets at most one job of an account run, the queueing lock at most one
wait. Wake-ups coalesce: asking for a sync while one waits keeps the sooner of the two
(a later wake-up is dropped, a sooner one replaces the waiting job).

Jobs are hints. The account's status row (company.store) says when it is next checked; the
sweep (company.worker) queues what is due and re-creates lost jobs, so a job deleted, a
worker killed or a queue wiped costs at most one sweep period of delay, never a sync.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import procrastinate
import structlog
from procrastinate import exceptions as pexc
from procrastinate.job_context import JobContext
from sqlalchemy.engine import make_url

log = structlog.get_logger(__name__)

SYNC_TASK = "followup.sync_account"
SWEEP_TASK = "followup.sweep"
STALLED_TASK = "followup.retry_stalled"
QUEUE = "sync"
# Each periodic task runs once a minute; its queueing lock keeps one waiting at most.
EVERY_MINUTE = "* * * * *"
# How many times a racing defer is tried again before giving up (another process keeps
# replacing the waiting job: its job will do).
_DEFER_TRIES = 4

Handler = Callable[[JobContext, str, str], None]
Periodic = Callable[[JobContext, int], None]


# PL/pgSQL caches a generic plan after five calls, and for procrastinate_fetch_job that plan
# walks every waiting job: measured on 9,500 queued jobs (a backfill of 10,000 accounts),
# 4.4 s per fetch with the generic plan, 8 ms with a custom one, so a mass of queued syncs
# ran at under 2 a second, PostgreSQL's CPU growing with the square of the queue. The queue's
# connections plan each call for its arguments.
CUSTOM_PLANS = "-c plan_cache_mode=force_custom_plan"


def conninfo(url: str) -> str:
    """libpq's URL for a SQLAlchemy one (postgresql+psycopg://... -> postgresql://...), with
    the queue's session settings added to any `options` it has (a search_path, say)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
    options = str(params.get("options") or "")
    if "plan_cache_mode" not in options:
        params["options"] = f"{options} {CUSTOM_PLANS}".strip()
    return make_conninfo("", **params)


def connector_for(url: str, **pool: Any) -> procrastinate.PsycopgConnector:
    return procrastinate.PsycopgConnector(conninfo=conninfo(url), **pool)


def cron_every(seconds: int) -> str:
    """procrastinate's cron for "every `seconds`" (a 6th field counts seconds)."""
    if seconds >= 60:
        return EVERY_MINUTE
    return f"* * * * * */{max(1, seconds)}"


def make_app(connector: Any, *, sync: Handler | None = None, sweep: Periodic | None = None,
             stalled_after: float = 30.0, every: str = EVERY_MINUTE) -> procrastinate.App:
    """The app with followup's tasks. `sync` and `sweep` run the jobs (company.worker
    passes them; a process that only defers jobs passes nothing). `every` is the periodic
    tasks' cron (once a minute; tests go faster)."""
    app = procrastinate.App(connector=connector)

    @app.task(name=SYNC_TASK, queue=QUEUE, pass_context=True)
    def sync_account(context: JobContext, account_id: str, reason: str) -> None:
        if sync is None:
            raise RuntimeError("this process defers syncs, it does not run them")
        sync(context, account_id, reason)

    @app.periodic(cron=every)
    @app.task(name=SWEEP_TASK, queue=QUEUE, pass_context=True, lock=SWEEP_TASK,
              queueing_lock=SWEEP_TASK)
    def sweep_task(context: JobContext, timestamp: int) -> None:
        if sweep is not None:
            sweep(context, timestamp)

    @app.periodic(cron=every)
    @app.task(name=STALLED_TASK, queue=QUEUE, pass_context=True,
              lock=STALLED_TASK, queueing_lock=STALLED_TASK)
    async def retry_stalled(context: JobContext, timestamp: int) -> None:
        await retry_stalled_jobs(context.app, stalled_after)

    return app


async def retry_stalled_jobs(app: procrastinate.App, stalled_after: float) -> int:
    """Jobs left "doing" by a worker that stopped sending heartbeats (killed, frozen,
    partitioned) go back to the queue. When the account already has a waiting job (the
    sweep queued one) the stalled one is closed instead: the waiting one covers it."""
    manager = app.job_manager
    retried = 0
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after):
        try:
            await manager.retry_job(job)
            retried += 1
            log.warning("queue.stalled_job_retried", job=job.id, task=job.task_name)
        except pexc.ConnectorException:  # a waiting job holds its queueing lock
            await manager.finish_job(job, status=procrastinate.jobs.Status.FAILED,
                                     delete_job=False)
            log.warning("queue.stalled_job_closed", job=job.id, task=job.task_name)
    return retried


def schedule_sync(app: procrastinate.App, account: str, reason: str,
                  at: datetime | None = None) -> bool:
    """Queue a sync of `account` at `at` (None: now). Returns False when a job already
    waiting wakes it sooner (nothing to do)."""
    task = app.tasks[SYNC_TASK]
    for _ in range(_DEFER_TRIES):
        try:
            task.configure(lock=account, queueing_lock=account, schedule_at=at).defer(
                account_id=account, reason=reason)
            return True
        except pexc.AlreadyEnqueued:
            waiting = list(app.job_manager.list_jobs(queueing_lock=account, status="todo"))
            later = [j for j in waiting if (at is None and j.scheduled_at is not None)
                     or (at is not None and j.scheduled_at is not None and j.scheduled_at > at)]
            if len(later) < len(waiting):
                return False  # one wakes it as soon or sooner: coalesced
            for job in later:  # ours is sooner: it replaces the later one
                assert job.id is not None
                app.job_manager.cancel_job_by_id(job.id, delete_job=True)
    log.info("queue.defer_raced", account=account, reason=reason)
    return False

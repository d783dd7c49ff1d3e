"""`followup worker`: a procrastinate worker that runs account syncs and the periodic tasks.

One sync is one engine cycle (engine.cycle.run_cycle, exactly as `followup run` calls it):

1. skip it if the account is gone, disabled or throttled (then queue it for later);
2. take a token from the provider's and tenant's bucket, else throttle and queue it later;
3. acquire the account's lease (company.lease), else queue it for when the lease ends;
4. unseal the credential into a private folder (0700, in memory when /dev/shm exists),
   open the account, run the cycle with a FencedLedger under the ledger's account lock,
   and store the credential again if the provider refreshed it;
5. record the outcome on the status row and queue the next sync at the cycle's next_due
   (the safety poll, `next_check_at`, is the sweep's business).

Failures back off: max(exponential back-off, the provider's Retry-After), recorded as the
account's throttled-until; a revoked grant marks it needs-reconnect and looks again rarely.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import procrastinate
import structlog
from procrastinate.job_context import JobContext
from sqlalchemy import text
from sqlalchemy.engine import Engine

from followup.company import schema
from followup.company.bucket import Buckets
from followup.company.lease import DEFAULT_TTL, FencedLedger, Lease, LeaseLostError
from followup.company.queue import cron_every, make_app, schedule_sync
from followup.company.store import AccountStore, token_files, write_token_files
from followup.config import AccountConfig, Config
from followup.core.compose import Composer
from followup.engine.cycle import CycleReport, run_cycle
from followup.errors import AuthError, TransientError
from followup.ledger import Ledger
from followup.ledger.connect import make_engine
from followup.ledger.rows import AccountBusyError
from followup.ledger.store import process_identity
from followup.protocols import Account
from followup.service.http import HttpEndpoint

log = structlog.get_logger(__name__)

SAFETY_POLL = timedelta(minutes=15)
RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(hours=1)
RECONNECT_WAIT = timedelta(hours=6)
# Requests a write costs a provider, roughly (lookup and create): charged to the bucket.
REQUESTS_PER_WRITE = 2.0
SWEEP_BATCH = 5000
# The soonest a sync queues the next one when its next_due has passed already.
RESYNC_GAP = timedelta(seconds=30)
# How often an idle worker looks for jobs that came due (a meeting's end): jobs queued for
# now arrive by LISTEN/NOTIFY at once, jobs scheduled ahead are found by this poll, so it
# bounds the wait between a due time and its sync (one indexed query per poll and worker).
POLL_SECONDS = 1.0
# After PostgreSQL went away, the job loop starts again after 1 s, then 2, 4, ... 30 s.
DB_LOST_FIRST_PAUSE = 1.0
DB_LOST_MAX_PAUSE = 30.0

Opener = Callable[[AccountConfig, Config], Account]


def retry_wait(failures: int, retry_after: float | None = None) -> timedelta:
    """max(exponential back-off with jitter, the server's Retry-After)."""
    base: timedelta = min(RETRY_CAP, RETRY_BASE * 2 ** max(0, min(failures, 20) - 1))
    wait: timedelta = base / 2 + base / 2 * random.random()  # noqa: S311 - jitter
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=retry_after))
    return wait


def private_dir_base() -> Path:
    """Where unsealed credentials live during a sync: the service's runtime dir, else
    /dev/shm (memory, never on disk), else the temp dir."""
    for candidate in (os.environ.get("RUNTIME_DIRECTORY"), "/dev/shm"):  # noqa: S108
        if candidate and os.access(candidate, os.W_OK):
            return Path(candidate)
    return Path(tempfile.gettempdir())


def _default_opener(account: AccountConfig, config: Config) -> Account:
    from followup.providers import open_account

    return open_account(account, config)


@dataclass
class Worker:
    """What a worker process shares between its jobs."""

    url: str
    engine: Engine
    store: AccountStore
    buckets: Buckets
    app: procrastinate.App | None = None
    lease_ttl: timedelta = DEFAULT_TTL
    safety_poll: timedelta = SAFETY_POLL
    opener: Opener = _default_opener
    identity: str = field(default_factory=process_identity)
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    _running: set[str] = field(default_factory=set)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    # --- procrastinate entry points -------------------------------------------------------

    def on_sync(self, context: JobContext, account: str, reason: str) -> None:
        self.sync(account, reason)

    def on_sweep(self, context: JobContext, timestamp: int) -> None:
        self.sweep()

    def _schedule(self, account: str, reason: str, at: datetime | None) -> None:
        if self.app is not None:
            schedule_sync(self.app, account, reason, at)

    # --- one sync -------------------------------------------------------------------------

    def sync(self, account: str, reason: str) -> str:
        """Run one sync of `account`; returns what happened, in a word (for logs/tests)."""
        with self._guard:  # one sync per account per process, whatever the queue says
            if account in self._running:
                return "running"
            self._running.add(account)
        try:
            return self._sync(account, reason)
        finally:
            with self._guard:
                self._running.discard(account)

    def _sync(self, name: str, reason: str) -> str:
        now = self.clock()
        bound = log.bind(account=name, reason=reason)
        record = self.store.get(name)
        if record is None or not record.enabled:
            bound.info("sync.skipped", why="gone" if record is None else "disabled")
            return "skipped"
        if record.throttled_until is not None and record.throttled_until > now:
            self._schedule(name, "throttled", record.throttled_until)
            return "throttled"
        wait = self.buckets.take(record.kind, record.tenant)
        if wait > 0:
            until = now + timedelta(seconds=wait)
            self.store.throttle(name, until, f"{record.kind} request budget of the tenant")
            self._schedule(name, "rate limit", until)
            bound.info("sync.rate_limited", until=until.isoformat())
            return "throttled"
        lease = Lease(self.engine, name, self.identity, self.lease_ttl)
        if lease.acquire() is None:
            until = lease.held_until() or now + self.lease_ttl
            self._schedule(name, "leased elsewhere", until)
            bound.info("sync.leased_elsewhere", until=until.isoformat())
            return "leased"
        try:
            report = self._cycle(name, record.tenant, record.kind, lease, now)
        except AuthError as e:
            self.store.record_failure(name, str(e), next_check=now + RECONNECT_WAIT,
                                      needs_reconnect=True)
            bound.error("sync.needs_reconnect", error=str(e))
            return "needs_reconnect"
        except (LeaseLostError, AccountBusyError) as e:
            self._schedule(name, "lease lost", now + self.lease_ttl)
            bound.warning("sync.lost_account", error=str(e))
            return "lost"
        except TransientError as e:
            wait_for = retry_wait(record.failures + 1, e.retry_after)
            self.store.record_failure(name, f"{type(e).__name__}: {e}",
                                      next_check=now + wait_for, throttled=True)
            self._schedule(name, "retry", now + wait_for)
            bound.warning("sync.retry_later", error=str(e), seconds=wait_for.total_seconds())
            return "retry"
        except Exception as e:  # one account's bug must not take the worker down
            wait_for = retry_wait(record.failures + 1)
            self.store.record_failure(name, f"{type(e).__name__}: {e}",
                                      next_check=now + wait_for)
            self._schedule(name, "retry", now + wait_for)
            bound.exception("sync.failed")
            return "failed"
        finally:
            lease.release()
        finished = self.clock()
        next_check = finished + self.safety_poll
        self.store.record_sync(name, finished=finished, next_due=report.next_due,
                               next_check=next_check)
        written = sum(report.writes.values())
        self.buckets.charge(record.kind, record.tenant, written * REQUESTS_PER_WRITE)
        due = report.next_due
        if due is not None and due < next_check:
            # A meeting's end is due at its end. Something the cycle could not do yet (a
            # write claimed by a live process, writes cut short) is due already: look
            # again soon, not in a hot loop. (The gap only for the latter: a sync a push
            # notice woke just before a meeting ended delayed its draft by 30 s.)
            self._schedule(name, "due", due if due > finished else finished + RESYNC_GAP)
        bound.info("sync.done", seconds=round((finished - now).total_seconds(), 3),
                   writes=written, errors=len(report.errors))
        return "done"

    def _cycle(self, name: str, tenant: str, kind: str, lease: Lease,
               now: datetime) -> CycleReport:
        folder = Path(tempfile.mkdtemp(prefix="followup-", dir=private_dir_base()))
        try:
            config, account_cfg = self.store.config_for(name, ledger_url=self.url,
                                                        state_dir=folder)
            tokens = folder / "tokens"
            sealed = self.store.credential(name)
            write_token_files(tokens, name, sealed)
            try:
                account = self.opener(account_cfg, config)
                templates = Path(config.templates_dir) if config.templates_dir else None
                composer = Composer(config.user, templates)
                ledger = FencedLedger(self.engine, lease, owner=lease.claim_owner(
                    self.identity))
                with ledger.account_lock(name):
                    return run_cycle(config, ledger, account, composer, now, stop=lease.lost)
            finally:
                fresh = token_files(tokens, name)
                if fresh != sealed and (fresh or sealed):
                    self.store.store_credential(name, fresh)  # refreshed by the provider
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    # --- the sweep ------------------------------------------------------------------------

    def sweep(self) -> int:
        """Queue every account whose check time has passed, or whose next_due has no job
        waiting for it (a lost job). Returns how many were queued."""
        with self.engine.begin() as conn:
            rows = conn.execute(text(
                "SELECT a.name, a.next_check_at, a.next_due_at FROM company_accounts a "
                "WHERE a.enabled AND (a.throttled_until IS NULL OR a.throttled_until <= now()) "
                "AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j WHERE j.queueing_lock = "
                "  a.name AND j.status = 'doing') "
                # The check time has passed, and no job will run it before then...
                "AND (((a.next_check_at IS NULL OR a.next_check_at <= now()) "
                "  AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j WHERE j.queueing_lock = "
                "  a.name AND j.status = 'todo' AND (j.scheduled_at IS NULL "
                "  OR j.scheduled_at <= now()))) "
                # ...or something is due before the check time, and no job waits for it.
                # (A next_due the last sync saw pass already has its own retry job.)
                "OR (a.next_due_at IS NOT NULL AND a.next_due_at < a.next_check_at "
                "  AND (a.last_sync IS NULL OR a.next_due_at > a.last_sync) "
                "  AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j WHERE j.queueing_lock = "
                "  a.name AND j.status = 'todo'))) "
                "ORDER BY a.next_check_at NULLS FIRST LIMIT :n"), {"n": SWEEP_BATCH}).all()
        now = self.clock()
        queued = 0
        for account, next_check, next_due in rows:
            if next_check is None or next_check <= now:
                self._schedule(account, "safety poll", None)
            else:
                self._schedule(account, "lost job", max(next_due, now))
            queued += 1
        if queued:
            log.info("sweep.queued", accounts=queued)
        return queued


def open_worker(url: str, *, store: AccountStore | None = None, concurrency: int = 4,
                **options: Any) -> Worker:
    """A Worker on the database at `url` (the ledger's schema brought to head first), with
    database connections for `concurrency` syncs at once."""
    Ledger.open(url).close()  # creates or upgrades the ledger's tables
    # A running sync's ledger transactions run on its account lock's connection (one per
    # sync); the lease, the bucket, the sweep and /metrics take short turns on the rest.
    engine = make_engine(url, connections=concurrency + 4)
    schema.ensure_schema(engine)
    return Worker(url=url, engine=engine, store=store or AccountStore(engine),
                  buckets=Buckets(engine), **options)


def ensure_queue_schema(app: procrastinate.App, engine: Engine) -> None:
    """procrastinate's tables, applied once (under an advisory lock: workers start together)."""
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:ns, hashtext(current_schema()))"),
                     {"ns": 0x66757033})
        if conn.scalar(text("SELECT to_regclass('procrastinate_jobs')")) is None:
            # Straight to psycopg without parameters: the script's % signs are not ours.
            raw = conn.connection.dbapi_connection
            assert raw is not None
            raw.cursor().execute(app.schema_manager.get_schema())


def run_worker(url: str, *, concurrency: int = 4, name: str | None = None,
               lease_ttl: timedelta = DEFAULT_TTL, safety_poll: timedelta = SAFETY_POLL,
               heartbeat: float = 10.0, stalled_after: float = 30.0,
               periodic_seconds: int = 60, opener: Opener | None = None,
               metrics_listen: str | None = None, poll_seconds: float = POLL_SECONDS) -> int:
    """Run until SIGTERM/SIGINT: sync jobs (`concurrency` at a time, in threads: a sync
    mostly waits for providers) and the once-a-minute sweep and stalled-job retry; with
    `metrics_listen`, /metrics and /healthz on that address (company.observe)."""
    options: dict[str, Any] = {"lease_ttl": lease_ttl, "safety_poll": safety_poll}
    if opener is not None:
        options["opener"] = opener
    worker = open_worker(url, concurrency=concurrency, **options)
    app = make_app(_connector(url, concurrency), sync=worker.on_sync, sweep=worker.on_sweep,
                   stalled_after=stalled_after, every=cron_every(periodic_seconds))
    worker.app = app
    ensure_queue_schema(app, worker.engine)
    label = name or f"{socket.gethostname()}-{os.getpid()}"
    log.info("worker.started", name=label, concurrency=concurrency)
    endpoint = _endpoint(metrics_listen, worker.engine) if metrics_listen else None
    job_loop = {"name": label, "queues": None, "delete_jobs": "successful",
                "update_heartbeat_interval": heartbeat, "stalled_worker_timeout": stalled_after,
                "fetch_job_polling_interval": poll_seconds}
    try:
        _run_until_stopped(app, concurrency, job_loop)
    finally:
        if endpoint is not None:
            endpoint.stop()
        worker.engine.dispose()
    log.info("worker.stopped", name=label)
    return 0


def _run_until_stopped(app: procrastinate.App, concurrency: int,
                       options: dict[str, Any]) -> None:
    """Run the job loop until a signal stops it, through PostgreSQL going away.

    procrastinate ends its worker when its LISTEN connection cannot be opened again (a
    restart refuses connections for a few seconds: "the database system is shutting
    down"). The process would exit, and with it every worker at once. Instead it waits,
    with a growing pause, and starts the loop again; the syncs that were running finished
    or failed on their own, and a job whose end was not recorded is retried as stalled."""
    import psycopg
    from procrastinate.exceptions import ConnectorException

    pause = DB_LOST_FIRST_PAUSE
    while True:
        started = time.monotonic()
        try:
            if asyncio.run(_run_jobs(app, concurrency, **options)):
                return  # SIGTERM or SIGINT
            # It stopped itself after a side task failed, and unregistered cleanly (the
            # server was back by then): the same outage, ended sooner.
            cause = "the job loop stopped on a database error"
        # OperationalError: opening the pool again while the server still refuses
        # (psycopg_pool's PoolTimeout is one).
        except (ConnectorException, psycopg.OperationalError) as e:
            error = e.__cause__ or e
            cause = f"{type(error).__name__}: {error}"
        if time.monotonic() - started > DB_LOST_MAX_PAUSE:
            pause = DB_LOST_FIRST_PAUSE  # it ran a good while: a new outage
        log.warning("worker.database_lost", error=cause, retry_in=pause)
        if _wait_unless_signalled(pause):
            return
        pause = min(pause * 2, DB_LOST_MAX_PAUSE)


def _wait_unless_signalled(seconds: float) -> bool:
    """Sleep, or return True at once on SIGTERM/SIGINT (between two job loops no one else
    handles them, and a stop asked for then must still end the process cleanly)."""
    stop = threading.Event()
    handled = (signal.SIGTERM, signal.SIGINT)
    previous = {s: signal.signal(s, lambda *_: stop.set()) for s in handled}
    try:
        return stop.wait(seconds)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


async def _run_jobs(app: procrastinate.App, concurrency: int, **options: Any) -> bool:
    """procrastinate's App.run_worker, with threads for `concurrency` syncs at once; True
    when SIGTERM or SIGINT stopped it, False when it stopped by itself.

    procrastinate runs a sync task in the event loop's default executor, whose size is
    min(32, CPUs + 4): 6 threads on a 2-core machine, whatever the concurrency asked for.
    A sync mostly waits for providers, so it is the threads that bound a burst of meeting
    ends, not the CPU (measured: 2 x 16 slots ran as 2 x 6).

    The signals are ours, not procrastinate's: its worker also ends, without an error,
    when a side task (the LISTEN connection) fails and the database is back in time to
    unregister it, and only the signal tells the two apart. Cancelling its task is its
    graceful stop (running syncs finish); a second signal cancels again, which aborts."""
    loop = asyncio.get_running_loop()
    # A few threads beyond the syncs: asyncio's own getaddrinfo runs there too.
    loop.set_default_executor(ThreadPoolExecutor(max_workers=concurrency + 4,
                                                 thread_name_prefix="followup-sync"))
    signalled = False
    async with app.open_async():
        task = asyncio.create_task(app.run_worker_async(
            concurrency=concurrency, install_signal_handlers=False, **options))

        def stop() -> None:
            nonlocal signalled
            signalled = True
            task.cancel()

        for s in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(s, stop)
        try:
            await task
        except asyncio.CancelledError:
            if not signalled:
                raise
        finally:
            for s in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(s)
    return signalled


def _endpoint(listen: str, engine: Engine) -> HttpEndpoint:
    from followup.company.observe import worker_health, worker_metrics

    store = AccountStore(engine)
    endpoint = HttpEndpoint(listen, lambda: worker_health(engine),
                            lambda: worker_metrics(engine, store))
    endpoint.start()
    return endpoint


def _connector(url: str, concurrency: int) -> procrastinate.PsycopgConnector:
    from followup.company.queue import connector_for

    # The worker's own queries, the listener, and a connection per job that defers.
    # timeout: how long a query waits for a connection while the server is away (psycopg's
    # 30 s by default). A restart's few seconds pass within it; a longer outage ends the
    # job loop sooner, and _run_until_stopped starts it again once the server is back.
    return connector_for(url, min_size=2, max_size=concurrency + 4, timeout=10.0)

"""`followup run`: the daemon loop over every configured account.

One thread runs cycles, one account after another, so the ledger sees one writer. Each
account has its own next attempt: after a good cycle the next poll or its next due time,
whichever is sooner; after a failure an exponential back-off. A failing account never
stops the others. Between cycles the loop blocks in select() on a self-pipe (service.waker:
no CPU, no requests) until the earliest next attempt, a watchdog ping, or a signal:

- SIGTERM / SIGINT: the cycle in flight finishes its current write (run_cycle's `stop`),
  the ledger commits, and the process exits 0.
- SIGHUP: the config is read again; if it has problems every one is logged and the old
  config stays.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import structlog

from followup import metrics
from followup.config import AccountConfig, Config, ConfigError, load_config
from followup.core.compose import Composer
from followup.engine.cycle import CycleReport, run_cycle
from followup.errors import AuthError, FollowupError, TransientError
from followup.ledger import Ledger, WriteState
from followup.protocols import Account
from followup.service import snapshot
from followup.service.health import Health, HealthBoard, backoff
from followup.service.http import HttpEndpoint, board_health
from followup.service.lock import LockHeldError, StateLock
from followup.service.notify import Notifier
from followup.service.waker import Waker
from followup.terminal import printable

log = structlog.get_logger(__name__)

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_CONFIG = 2
EXIT_LOCKED = 3
EXIT_TEMPFAIL = 75  # sysexits.h EX_TEMPFAIL: every account failed or needs reconnecting

# Back-off for a failing account: 30 s, 1 min, 2 min ... at most an hour.
RETRY_BASE_SECONDS = 30.0
RETRY_CAP_SECONDS = 3600.0
# The grant is gone: only the user can fix it, so look again rarely (SIGHUP looks at once).
RECONNECT_BASE_SECONDS = 300.0


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass
class Settings:
    """What a config gives the loop; replaced whole on a successful reload."""

    config: Config
    composer: Composer
    digest: str = ""  # of the config file, read before it was loaded (service.snapshot)


def _settings(config: Config, digest: str = "") -> Settings:
    templates = Path(config.templates_dir) if config.templates_dir else None
    return Settings(config, Composer(config.user, templates), digest)


def load_settings(path: Path) -> Settings:
    """The config and what is built from it; ConfigError with every problem otherwise."""
    try:
        digest = snapshot.config_digest(path.read_bytes())
    except OSError:
        digest = ""  # load_config says why it cannot be read
    config = load_config(path)
    problems = []
    if not config.accounts:
        problems.append("accounts: no account configured; add an [[accounts]] table")
    if config.daemon.http_listen:
        from followup.service.http import parse_listen

        try:
            parse_listen(config.daemon.http_listen)
        except ValueError as e:
            problems.append(str(e))
    try:
        settings = _settings(config, digest)
    except (ValueError, OSError) as e:  # TemplateProblem is a ValueError
        problems.append(f"templates_dir: {e}")
    if problems:
        raise ConfigError(str(path), problems)
    return settings


class Daemon:
    def __init__(
        self,
        config_path: Path,
        settings: Settings,
        ledger: Ledger,
        *,
        once: bool,
        dry_run: bool,
        out: TextIO,
        notifier: Notifier | None = None,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        self.config_path = config_path
        self.settings = settings
        self.ledger = ledger
        self.once = once or dry_run  # a dry run plans and prints once; it never loops
        self.dry_run = dry_run
        self.out = out
        self.notifier = notifier or Notifier()
        self.clock = clock
        self.board = HealthBoard()
        self.board.reset([(a.name, a.kind) for a in settings.config.accounts])
        self._accounts: dict[str, Account] = {}
        self._waker = Waker()
        self._stopping = False
        self._reload = False
        self._ready_sent = False
        self._http: HttpEndpoint | None = None
        self._writes_failed: set[str] = set()  # accounts with failed writes (--once: exit 1)
        self._reports: dict[str, CycleReport] = {}  # each account's last good cycle

    # --- signals ---------------------------------------------------------------------------

    # Signal handlers: set a flag and wake the loop, nothing else (no locks, no I/O).

    def request_stop(self, *_: object) -> None:
        self._stopping = True
        self._waker.wake()

    def request_reload(self, *_: object) -> None:
        self._reload = True
        self._waker.wake()

    def should_stop(self) -> bool:
        """Passed to run_cycle, which asks between writes: also a sign of life for systemd."""
        self.notifier.watchdog()
        return self._stopping

    def _install_signals(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None  # embedded (tests, a host program): the caller stops us
        handlers: dict[int, Callable[[int, FrameType | None], Any] | int | None] = {}

        def on(sig: int, fn: Callable[[int, FrameType | None], None]) -> None:
            handlers[sig] = signal.signal(sig, fn)

        on(signal.SIGTERM, self.request_stop)
        on(signal.SIGINT, self.request_stop)
        if not self.once:
            on(signal.SIGHUP, self.request_reload)

        def restore() -> None:
            for sig, old in handlers.items():
                if old is not None:  # None: a handler not set from Python; leave ours
                    signal.signal(sig, old)

        return restore

    # --- the loop --------------------------------------------------------------------------

    def run(self) -> int:
        restore = self._install_signals()
        try:
            self._start_http()
            return self._loop()
        finally:
            self.notifier.stopping()
            if self._http:
                self._http.stop()
            self.notifier.close()
            restore()
            self._waker.close()

    def _loop(self) -> int:
        log.info(
            "daemon.started", accounts=[a.name for a in self.settings.config.accounts],
            once=self.once, dry_run=self.dry_run,
        )
        while not self._stopping:
            if self._reload:
                self._reload = False
                self._reload_safely()
            for acfg in self._due_accounts():
                if self._stopping:
                    break
                self._run_account(acfg)
            if self.once:
                return self._once_exit_code()
            self.remember()
            self._sleep()
        log.info("daemon.stopped")
        return EXIT_OK

    def _due_accounts(self) -> list[AccountConfig]:
        now = self.clock()
        due = []
        for acfg in self.settings.config.accounts:
            h = self.board.get(acfg.name)
            if self.once or h.next_attempt is None or h.next_attempt <= now:
                due.append(acfg)
        return due

    def _next_wake(self) -> datetime:
        times = [h.next_attempt for h in self.board.snapshot() if h.next_attempt is not None]
        poll = self.clock() + timedelta(seconds=self.settings.config.daemon.poll_seconds)
        return min([poll, *times])

    def _sleep(self) -> None:
        wake_at = self._next_wake()
        metrics.NEXT_WAKE.set(wake_at.timestamp())
        self.notifier.status(f"{self.board.summary()}; next wake {wake_at:%Y-%m-%d %H:%M:%S}Z")
        log.debug("daemon.sleeping", until=wake_at.isoformat())
        while not (self._stopping or self._reload):
            left = (wake_at - self.clock()).total_seconds()
            if left <= 0:
                return
            ping = self.notifier.watchdog_due_in()
            timeout = left if ping is None else min(left, ping)
            # Blocks without CPU until the time comes or a signal handler wakes it.
            self._waker.wait(timeout)
            self.notifier.watchdog()

    # --- one account -----------------------------------------------------------------------

    def _run_account(self, acfg: AccountConfig) -> None:
        from followup.providers import open_account

        name = acfg.name
        config = self.settings.config
        started = self.clock()
        bound = log.bind(account=name, provider=acfg.kind)
        if not self._ready_sent:
            # READY=1 once the first cycle has started: systemd then considers us up.
            self._ready_sent = True
            self.notifier.ready(f"first cycle running; {self.board.summary()}")
        try:
            account = self._accounts.get(name)
            if account is None:
                account = open_account(acfg, config)
                self._accounts[name] = account
            progress = self._backfill_progress(acfg, started)
            try:
                # Two processes sharing a PostgreSQL ledger never run one account at once.
                with nullcontext() if self.dry_run else self.ledger.account_lock(name):
                    report = run_cycle(
                        config, self.ledger, account, self.settings.composer, started,
                        dry_run=self.dry_run,
                        stop=progress.stop_check(self.should_stop) if progress
                        else self.should_stop,
                        hooks=progress.hook if progress else None,
                    )
            finally:
                if progress:
                    progress.finish()
        except AuthError as e:
            self._accounts.pop(name, None)
            self._failed(acfg, str(e), reconnect=True)
            bound.error(
                "daemon.account_needs_reconnect", error=str(e),
                fix=f"followup connect {acfg.kind} --account {name}",
            )
            return
        except TransientError as e:
            self._accounts.pop(name, None)
            self._failed(acfg, str(e), reconnect=False)
            bound.warning("daemon.account_unavailable", error=str(e))
            return
        except FollowupError as e:  # said in words already (a missing library, bad data)
            self._accounts.pop(name, None)
            self._failed(acfg, str(e), reconnect=False)
            bound.error("daemon.cycle_failed", error=str(e))
            return
        except Exception as e:  # one account's bug or outage must not stop the others
            self._accounts.pop(name, None)
            self._failed(acfg, f"{type(e).__name__}: {e}", reconnect=False)
            bound.exception("daemon.cycle_failed")
            return
        finished = self.clock()
        self._reports[name] = report
        poll = finished + timedelta(seconds=config.daemon.poll_seconds)
        next_due = report.next_due
        next_attempt = min(poll, next_due) if next_due is not None else poll
        self.board.succeeded(name, finished, next_attempt)
        if _report_fields(report)["failed"] or report.sources_failed:
            self._writes_failed.add(name)
        metrics.CYCLES.labels(account=name, result="stopped" if report.stopped else "ok").inc()
        metrics.LAST_SYNC.labels(account=name).set(finished.timestamp())
        self._export_pending(name)
        self._record_status(name, needs_reconnect=False, last_sync=finished, last_error=None)
        bound.info(
            "daemon.cycle_done", seconds=round((finished - started).total_seconds(), 3),
            next_attempt=next_attempt.isoformat(), **_report_fields(report),
        )
        if self.once:
            self._print_report(name, report)

    def remember(self) -> None:
        """Snapshot this round for `status`, `plan` and an idle `run --once` (service.snapshot);
        `run --once` calls it once the ledger is closed, so the snapshot sees its last state."""
        if self.dry_run:
            return
        from followup.service.remember import remember

        remember(self.config_path, self.settings.digest, self.settings.config, self._reports,
                 self.clock())

    def _backfill_progress(self, acfg: AccountConfig, now: datetime) -> _WriteProgress | None:
        """A progress display for an account's first cycle in this ledger, else None."""
        if self.dry_run or self.ledger.account_status(acfg.name) is not None:
            return None
        log.info("daemon.first_start", account=acfg.name,
                 lookback_days=self.settings.config.daemon.lookback_days)
        return _WriteProgress(self.ledger, acfg.name, now)

    def _export_pending(self, name: str) -> None:
        try:
            pending = self.ledger.writes(name, states=[WriteState.PENDING])
        except Exception:  # a metric is not worth failing a good cycle for
            log.warning("daemon.pending_count_failed", account=name, exc_info=True)
            return
        metrics.PENDING.labels(account=name).set(len(pending))

    def _failed(self, acfg: AccountConfig, error: str, *, reconnect: bool) -> None:
        self._reports.pop(acfg.name, None)
        failures = self.board.get(acfg.name).failures + 1
        base = RECONNECT_BASE_SECONDS if reconnect else RETRY_BASE_SECONDS
        next_attempt = self.clock() + backoff(failures, base=base, cap=RETRY_CAP_SECONDS)
        self.board.failed(acfg.name, error, next_attempt, reconnect=reconnect)
        metrics.CYCLES.labels(account=acfg.name, result="needs_reconnect" if reconnect
                              else "failed").inc()
        self._record_status(acfg.name, needs_reconnect=reconnect, last_error=error)
        if self.once:
            what = "needs reconnecting" if reconnect else "failed"
            print(printable(f"{acfg.name}: {what}: {error}"), file=self.out)

    def _record_status(self, name: str, **fields: Any) -> None:
        """Keep what `followup status` shows in the ledger; never fatal to the loop."""
        if self.dry_run:
            return
        try:
            self.ledger.set_account_status(name, **fields)
        except Exception:  # the ledger being down shows up in the next cycle anyway
            log.warning("daemon.status_not_recorded", account=name, exc_info=True)

    def _print_report(self, name: str, report: CycleReport) -> None:
        print(report_line(name, report), file=self.out)
        tz = self.settings.config.user.tz
        if self.dry_run:
            for i in report.intents:
                print(f"  would write {i.kind.value} for {i.person or 'weekly batch'} "
                      f"(due {i.due.astimezone(tz):%Y-%m-%d %H:%M})", file=self.out)
        for e in report.errors:
            print(printable(f"  error: {e}"), file=self.out)

    def _once_exit_code(self) -> int:
        states = [h.state for h in self.board.snapshot()]
        bad = [s for s in states if s in (Health.FAILING, Health.NEEDS_RECONNECT)]
        if not bad:
            return EXIT_SOME_FAILED if self._writes_failed else EXIT_OK
        return EXIT_TEMPFAIL if len(bad) == len(states) else EXIT_SOME_FAILED

    # --- reload and HTTP -------------------------------------------------------------------

    def _reload_safely(self) -> None:
        """A reload never ends the daemon: whatever goes wrong, the running config stays."""
        try:
            self._do_reload()
        except Exception as e:
            log.exception("daemon.reload_failed", error=f"{type(e).__name__}: {e}")
            self.notifier.ready(f"reload failed, old config kept; {self.board.summary()}")

    def _do_reload(self) -> None:
        self.notifier.reloading()
        try:
            new = load_settings(self.config_path)
        except ConfigError as e:
            for problem in e.problems:
                log.error("daemon.reload_refused",
                          source=e.source, problem=problem)
            self.notifier.ready(f"reload failed, old config kept; {self.board.summary()}")
            return
        old = self.settings.config
        fixed = {}
        if new.config.state_path() != old.state_path() or new.config.ledger_url() != \
                old.ledger_url():
            log.warning("daemon.reload_needs_restart")
            fixed = {"state_dir": old.state_dir, "ledger": old.ledger}
        if fixed:
            new = Settings(new.config.model_copy(update=fixed), new.composer, new.digest)
        self.settings = new
        self._accounts.clear()  # reopen with the new settings
        self._reports.clear()  # a snapshot needs a round on the new config
        self.board.reset([(a.name, a.kind) for a in new.config.accounts])
        if new.config.daemon.http_listen != old.daemon.http_listen:
            if self._http:
                self._http.stop()
                self._http = None
            self._start_http()
        log.info("daemon.reloaded", accounts=[a.name for a in new.config.accounts])
        self.notifier.ready(f"config reloaded; {self.board.summary()}")

    def _start_http(self) -> None:
        listen = self.settings.config.daemon.http_listen
        if not listen:
            return
        try:
            self._http = HttpEndpoint(listen, board_health(self.board))
        except OSError as e:
            log.error("http.listen_failed",
                      listen=listen, error=e.strerror or str(e))
            return
        self._http.start()


class _WriteProgress:
    """Feeds Progress from run_cycle's write hooks: the total is what is due when the first
    write begins (planning is done by then), each write begun advances it."""

    def __init__(self, ledger: Ledger, account: str, now: datetime) -> None:
        from followup.service.progress import Progress

        self.ledger = ledger
        self.account = account
        self.now = now
        self.progress = Progress(account)
        self.progress.reading()  # from the first second: reading and planning come first

    def stop_check(self, should_stop: Callable[[], bool]) -> Callable[[], bool]:
        """The cycle's stop check, which runs all through the reading: also a progress tick."""
        def check() -> bool:
            self.progress.tick()
            return should_stop()

        return check

    def hook(self, point: str, _row: object) -> None:
        if point != "before_write":
            return
        if not self.progress.total:
            self.progress.start(len(self.ledger.pending(self.account, self.now)))
        self.progress.advance()

    def finish(self) -> None:
        self.progress.finish()


def report_line(name: str, report: CycleReport) -> str:
    """`run --once`'s line for one account's cycle."""
    f = _report_fields(report)
    line = (f"{name}: ok, {f['synced']} meetings synced, {f['processed']} ended meetings "
            f"planned, {f['planned']} new writes")
    if not report.dry_run:
        line += f", {f['written']} written, {f['failed']} failed"
    return line


def _report_fields(report: CycleReport) -> dict[str, int]:
    """The report's counters for a log line: numbers only, never contents."""
    failed = sum(n for (_, outcome), n in report.writes.items() if outcome == "failed")
    return {
        "synced": report.meetings_synced,
        "processed": report.meetings_processed,
        "planned": len(report.intents),
        "written": sum(report.writes.values()) - failed,
        "failed": failed,
        "errors": len(report.errors),
    }


def run_daemon(config_path: Path, *, once: bool, dry_run: bool, out: TextIO) -> int:
    """`followup run`. Exit codes: 0 ok (or stopped by a signal), 1 some account failed or
    some writes failed (--once), 2 config error, 3 another instance holds the lock, 75 every
    account failed (--once) or the ledger cannot be reached."""
    if not structlog.is_configured():
        from followup.log import configure_logging

        configure_logging()
    try:
        settings = load_settings(config_path)
    except ConfigError as e:
        from followup.cli import print_config_error

        print_config_error(e, sys.stderr)
        return EXIT_CONFIG
    config = settings.config
    lock = StateLock(config.state_path())
    try:
        lock.acquire()
    except LockHeldError as e:
        print(f"followup: {e}", file=sys.stderr)
        return EXIT_LOCKED
    except OSError as e:
        print(f"followup: cannot use the state dir {config.state_path()}: {e.strerror}; "
              "check state_dir in the config and its permissions", file=sys.stderr)
        return EXIT_CONFIG
    try:
        try:
            ledger = Ledger.open(config.ledger_url())
        except Exception as e:
            log.error("daemon.ledger_unavailable", error=f"{type(e).__name__}: {e}")
            print(f"followup: cannot open the ledger: {e}", file=sys.stderr)
            return EXIT_TEMPFAIL
        daemon = Daemon(config_path, settings, ledger, once=once, dry_run=dry_run, out=out)
        try:
            code = daemon.run()
        finally:
            ledger.close()
        if once:
            daemon.remember()
        return code
    finally:
        lock.release()

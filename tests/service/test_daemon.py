"""`followup run` as a real process: exit codes, failing accounts, signals, lock, notify."""

from __future__ import annotations

import mailbox
import signal
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .helpers import (
    DaemonProcess,
    NotifySocket,
    append_config,
    log_events,
    run_followup,
)

pytestmark = pytest.mark.slow

# A Microsoft account that was never connected: opening it raises AuthError, no network.
UNCONNECTED = """
[[accounts]]
kind = "microsoft"
name = "office"
client_id = "00000000-0000-0000-0000-000000000000"
authority_url = "http://127.0.0.1:9"
graph_url = "http://127.0.0.1:9/v1.0"
"""


def _drafts(config: Path) -> list[str]:
    return sorted(str(m["To"]) for m in mailbox.Maildir(config.parent / "Maildir" / ".Drafts",
                                                        create=False))


def test_once_runs_a_cycle_and_reports_backfill_progress(workspace: Path) -> None:
    done = run_followup("--config", str(workspace), "run", "--once")
    assert done.returncode == 0, done.stderr
    assert "demo: ok" in done.stdout
    assert _drafts(workspace), "the demo's ended meetings get drafts"
    events = log_events(done.stderr)
    progress = [e for e in events if e["event"] == "backfill.progress"]
    assert progress and progress[-1]["done"] == progress[-1]["total"]
    names = [e["event"] for e in events]
    assert names.index("backfill.reading") < names.index("backfill.started"), \
        "the first sync says it is reading before any write is known"
    again = run_followup("--config", str(workspace), "run", "--once")
    assert again.returncode == 0, again.stderr
    assert not [e for e in log_events(again.stderr) if e["event"] == "backfill.progress"], \
        "only the first start is a backfill"


def test_a_failing_account_does_not_stop_the_others(workspace: Path) -> None:
    append_config(workspace, UNCONNECTED)
    done = run_followup("--config", str(workspace), "run", "--once")
    assert done.returncode == 1, done.stderr
    assert "demo: ok" in done.stdout
    assert "office: needs reconnecting" in done.stdout
    assert _drafts(workspace), "the local account still did its work"


def test_every_account_failing_is_a_temporary_failure(tmp_path: Path) -> None:
    config = tmp_path / "followup.toml"
    config.write_text(f'state_dir = "state"\n{UNCONNECTED}')
    done = run_followup("--config", str(config), "run", "--once")
    assert done.returncode == 75, done.stderr
    assert "followup connect microsoft --account office" in done.stderr


def test_config_errors_are_all_listed_without_traceback(tmp_path: Path) -> None:
    config = tmp_path / "followup.toml"
    config.write_text('[user]\ntimezone = "Mars/Olympus"\n[daemon]\npoll_seconds = 1\n')
    done = run_followup("--config", str(config), "run", "--once")
    assert done.returncode == 2
    assert "user.timezone" in done.stderr
    assert "daemon.poll_seconds" in done.stderr
    assert "Traceback" not in done.stderr


def test_failing_account_is_retried_with_backoff_not_in_a_loop(
    workspace: Path, tmp_path: Path, notify_socket: NotifySocket,
    daemons: Callable[..., DaemonProcess],
) -> None:
    append_config(workspace, UNCONNECTED)
    d = daemons(workspace, tmp_path / "log", notify=notify_socket)
    d.wait_event("daemon.cycle_done", account="demo")
    failure = d.wait_event("daemon.account_needs_reconnect", account="office")
    assert failure["fix"] == "followup connect microsoft --account office"
    status = notify_socket.wait(r"^STATUS=.*next wake")
    assert "1 ok" in status and "1 needs reconnect" in status
    # Idle now: no further attempt for the failing account for minutes (back-off).
    time.sleep(1.5)
    attempts = [e for e in d.events() if e.get("account") == "office" and e["level"] == "error"]
    assert len(attempts) == 1
    assert d.stop() == 0


def test_lock_stops_a_second_instance(
    workspace: Path, tmp_path: Path, notify_socket: NotifySocket,
    daemons: Callable[..., DaemonProcess],
) -> None:
    first = daemons(workspace, tmp_path / "log", notify=notify_socket)
    notify_socket.wait(r"^READY=1")
    second = run_followup("--config", str(workspace), "run", "--once")
    assert second.returncode == 3
    assert f"another followup (pid {first.proc.pid}) is already running" in second.stderr
    assert first.stop() == 0
    assert run_followup("--config", str(workspace), "run", "--once").returncode == 0, \
        "the lock goes with the process"


def test_notify_protocol_ready_status_and_watchdog(
    workspace: Path, tmp_path: Path, notify_socket: NotifySocket,
    daemons: Callable[..., DaemonProcess],
) -> None:
    d = daemons(workspace, tmp_path / "log", notify=notify_socket,
                extra_env={"WATCHDOG_USEC": "400000"})
    ready = notify_socket.wait(r"^READY=1")
    assert "STATUS=first cycle running" in ready
    notify_socket.wait(r"^STATUS=1 account: 1 ok; next wake \d{4}-\d\d-\d\d")
    # Pings every 0.2 s while idle: several arrive without the daemon doing anything else.
    notify_socket.wait(r"^WATCHDOG=1$")
    pings = notify_socket.count(r"^WATCHDOG=1$")
    assert _eventually(lambda: notify_socket.count(r"^WATCHDOG=1$") >= pings + 3, timeout=10)
    assert d.stop() == 0
    notify_socket.wait(r"^STOPPING=1")


def test_sighup_with_a_broken_config_keeps_the_old_one(
    workspace: Path, tmp_path: Path, notify_socket: NotifySocket,
    daemons: Callable[..., DaemonProcess],
) -> None:
    d = daemons(workspace, tmp_path / "log", notify=notify_socket)
    d.wait_event("daemon.cycle_done", account="demo")
    good = workspace.read_text()
    workspace.write_text(good.replace('timezone = "UTC"', 'timezone = "Mars/Olympus"')
                         + "\n[daemon]\npoll_seconds = 1\n")
    d.signal(signal.SIGHUP)
    d.wait_event("daemon.reload_refused")
    notify_socket.wait(r"^STATUS=reload failed, old config kept")
    problems = [e["problem"] for e in d.events()
                if e["event"] == "daemon.reload_refused"]
    assert any("user.timezone" in p for p in problems)
    assert any("daemon.poll_seconds" in p for p in problems)
    assert d.proc.poll() is None, "still running"
    # A good config is taken, and runs the accounts again at once.
    workspace.write_text(good)
    d.signal(signal.SIGHUP)
    d.wait_event("daemon.reloaded")
    assert _eventually(
        lambda: len([e for e in d.events() if e["event"] == "daemon.cycle_done"]) >= 2)
    assert d.stop() == 0


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        (b"\n[daemon]\npoll_seconds = 1e14\n", "`daemon.poll_seconds` must be at most 86400"),
        (b"\n[daemon]\nhorizon_days = 100000000000000000000\nlookback_days = 99999999999\n",
         "`daemon.horizon_days` must be at most 366"),
        (b'\n[user]\nsignature = "caf\xe9"\n', "is not UTF-8"),
        (b"\n[[accounts]]\nkind = \"google\"\nname = \"../../escape\"\n",
         "cannot be an account name"),
        (b"\x00\xff\xfe garbage", "is not UTF-8"),
    ],
)
def test_sighup_never_ends_the_daemon_whatever_the_config_holds(
    workspace: Path, tmp_path: Path, daemons: Callable[..., DaemonProcess], broken: bytes,
    problem: str,
) -> None:
    d = daemons(workspace, tmp_path / "log")
    d.wait_event("daemon.cycle_done", account="demo")
    good = workspace.read_bytes()
    workspace.write_bytes(good + broken)
    d.signal(signal.SIGHUP)
    refused = d.wait_event("daemon.reload_refused")
    assert problem in refused["problem"]
    time.sleep(0.3)
    assert d.proc.poll() is None, "still running"
    assert "Traceback" not in d.log
    workspace.write_bytes(good)
    d.signal(signal.SIGHUP)
    d.wait_event("daemon.reloaded")
    assert d.stop() == 0


def _eventually(check: Callable[[], bool], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


class _SlowCalendar:
    """An .ics URL on loopback that answers only when the test says so: a cycle in flight."""

    def __init__(self, body: bytes) -> None:
        self.requested = threading.Event()
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requested.set()
                outer.release.wait(30)
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cal.ics"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slow_calendar(workspace: Path) -> Iterator[_SlowCalendar]:
    ics = next((workspace.parent / "calendar").glob("*.ics")).read_bytes()
    cal = _SlowCalendar(ics)
    yield cal
    cal.close()


def test_sigterm_during_a_cycle_exits_zero_within_ten_seconds(
    workspace: Path, tmp_path: Path, slow_calendar: _SlowCalendar,
    daemons: Callable[..., DaemonProcess],
) -> None:
    text = workspace.read_text().replace('calendars = ["calendar"]',
                                         f'calendars = ["calendar", "{slow_calendar.url}"]')
    workspace.write_text(text)
    d = daemons(workspace, tmp_path / "log")
    assert slow_calendar.requested.wait(30), "the cycle reached the slow calendar"
    started = time.monotonic()
    d.signal(signal.SIGTERM)
    slow_calendar.release.set()  # the request in flight completes, as a real one would
    assert d.stop(timeout=10) == 0
    assert time.monotonic() - started < 10
    assert d.events()[-1]["event"] == "daemon.stopped"
    # What was recorded is consistent: the next run completes the work, nothing doubles.
    slow_calendar.release.set()
    done = run_followup("--config", str(workspace), "run", "--once")
    assert done.returncode == 0, done.stderr
    drafts = _drafts(workspace)
    assert drafts and len(drafts) == len(set(drafts))

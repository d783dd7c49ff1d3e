"""Helpers to run the real `followup` process on a local demo workspace.

The daemon is a subprocess (`python -m followup`), its logs go to a file the tests read, and
systemd's side of the notify protocol is a datagram socket bound here.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WAIT_SECONDS = 30.0  # an upper bound for slow CI machines; tests end as soon as it happens


def run_followup(*args: str, env: dict[str, str] | None = None,
                 timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "followup", "--log-format", "json", *args],
        capture_output=True, text=True, timeout=timeout, env=env or _env(),
    )


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "FOLLOWUP_CONFIG")}
    env.update(extra)
    return env


def wait_for(what: str, check: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def log_events(text: str) -> list[dict[str, Any]]:
    """The JSON log lines of a process's stderr (other lines ignored)."""
    events = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return events


@dataclass
class NotifySocket:
    """systemd's end of sd_notify: collects every datagram the daemon sends."""

    path: Path
    sock: socket.socket = field(init=False)
    messages: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.setblocking(False)

    def drain(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return self.messages

    def wait(self, pattern: str, timeout: float = WAIT_SECONDS) -> str:
        rx = re.compile(pattern, re.M)
        return str(wait_for(f"notify message {pattern!r} (got {self.messages})",
                            lambda: next((m for m in self.drain() if rx.search(m)), None),
                            timeout))

    def count(self, pattern: str) -> int:
        rx = re.compile(pattern, re.M)
        return sum(1 for m in self.drain() if rx.search(m))


class DaemonProcess:
    """`followup run` in the background, its stderr in a file."""

    def __init__(self, config: Path, log: Path, *, notify: NotifySocket | None = None,
                 extra_env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> None:
        env = _env(**(extra_env or {}))
        if notify is not None:
            env["NOTIFY_SOCKET"] = str(notify.path)
        self.log_path = log
        self._log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "followup", "--log-format", "json", "--config", str(config),
             "run", *args],
            stdout=subprocess.PIPE, stderr=self._log, env=env, text=True,
        )

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def events(self) -> list[dict[str, Any]]:
        return log_events(self.log)

    def wait_event(self, event: str, timeout: float = WAIT_SECONDS, **fields: Any) -> dict[
            str, Any]:
        def find() -> dict[str, Any] | None:
            for e in self.events():
                if e.get("event") == event and all(e.get(k) == v for k, v in fields.items()):
                    return e
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.log}")
            return None

        return dict(wait_for(f"log event {event!r} {fields}", find, timeout))

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def stop(self, timeout: float = WAIT_SECONDS) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self._log.close()


def append_config(config: Path, text: str) -> None:
    with config.open("a", encoding="utf-8") as f:
        f.write("\n" + text.strip() + "\n")

"""The systemd notify protocol (sd_notify(3)), client side, and the watchdog schedule.

A datagram of "KEY=value" lines to the AF_UNIX socket named by $NOTIFY_SOCKET; a name that
starts with "@" is in the abstract namespace. Without $NOTIFY_SOCKET (not under systemd,
or Type=simple) every call is a no-op, so the daemon never needs to know where it runs.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

import structlog

log = structlog.get_logger(__name__)


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        addr = env.get("NOTIFY_SOCKET", "")
        self._addr: str | bytes | None = None
        if addr.startswith("@"):
            self._addr = b"\0" + addr[1:].encode()
        elif addr.startswith("/"):
            self._addr = addr
        self._sock: socket.socket | None = None
        self.watchdog_interval = _watchdog_interval(env)
        self._last_ping = 0.0

    @property
    def enabled(self) -> bool:
        return self._addr is not None

    def send(self, **fields: str) -> bool:
        """Send one message; False when not under systemd or the socket is gone."""
        if self._addr is None:
            return False
        msg = "\n".join(f"{k}={v}" for k, v in fields.items()).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(msg, self._addr)
        except OSError as e:
            # The manager went away (or never listened): log once per failure, keep running.
            log.warning("notify.failed", error=str(e))
            return False
        return True

    def ready(self, status: str) -> None:
        self.send(READY="1", STATUS=_one_line(status))

    def status(self, status: str) -> None:
        self.send(STATUS=_one_line(status))

    def stopping(self) -> None:
        self.send(STOPPING="1", STATUS="stopping")

    def reloading(self) -> None:
        # MONOTONIC_USEC lets systemd >= 253 match the reload with READY=1 (Type=notify-reload).
        self.send(RELOADING="1", MONOTONIC_USEC=str(time.clock_gettime_ns(time.CLOCK_MONOTONIC)
                                                    // 1000))

    def watchdog_due_in(self) -> float | None:
        """Seconds until the next watchdog ping is due (None: no watchdog)."""
        if self.watchdog_interval is None:
            return None
        return max(0.0, self._last_ping + self.watchdog_interval - time.monotonic())

    def watchdog(self) -> None:
        """Ping if half the watchdog period has passed since the last ping."""
        if self.watchdog_interval is None:
            return
        now = time.monotonic()
        if now - self._last_ping >= self.watchdog_interval:
            self._last_ping = now
            self.send(WATCHDOG="1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    """Half of $WATCHDOG_USEC, as sd_watchdog_enabled(3) advises; None if not for us."""
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000


def _one_line(text: str) -> str:
    return " ".join(text.split())

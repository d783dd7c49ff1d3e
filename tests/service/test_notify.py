"""The sd_notify client against a real AF_UNIX datagram socket, as systemd would listen."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from followup.service.notify import Notifier


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "notify.sock"
    sock.bind(str(path))
    sock.settimeout(5)
    yield sock, str(path)
    sock.close()


def test_messages_arrive_as_key_value_lines(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    n = Notifier({"NOTIFY_SOCKET": path})
    n.ready("2 accounts:\n 2 ok")
    assert sock.recv(4096).decode() == "READY=1\nSTATUS=2 accounts: 2 ok"
    n.close()


def test_abstract_socket_name_starting_with_at() -> None:
    name = f"followup-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        n = Notifier({"NOTIFY_SOCKET": "@" + name})
        n.status("idle")
        assert sock.recv(4096) == b"STATUS=idle"
        n.close()


def test_without_notify_socket_everything_is_a_no_op() -> None:
    n = Notifier({})
    assert not n.enabled
    assert n.send(READY="1") is False
    n.ready("x")
    n.watchdog()
    assert n.watchdog_due_in() is None


def test_a_vanished_socket_does_not_raise(tmp_path: Path) -> None:
    n = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert n.send(STATUS="x") is False
    n.close()


def test_watchdog_pings_at_half_the_period(listener: tuple[socket.socket, str]) -> None:
    sock, path = listener
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000"})
    assert n.watchdog_interval == 2.0
    n.watchdog()
    assert sock.recv(64) == b"WATCHDOG=1"
    n.watchdog()  # right after a ping: not due yet, nothing sent
    sock.settimeout(0.05)
    with pytest.raises(TimeoutError):
        sock.recv(64)
    due = n.watchdog_due_in()
    assert due is not None and 1.5 < due <= 2.0
    n.close()


def test_watchdog_meant_for_another_pid_is_ignored(listener: tuple[socket.socket, str]) -> None:
    _, path = listener
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"})
    assert n.watchdog_interval is None

"""Fixtures for the service tests: a demo workspace, a notify socket, daemon processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from followup.demo.workspace import build_workspace

from .helpers import DaemonProcess, NotifySocket


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """The demo workspace (local files: calendar, Maildir, contacts); returns its config."""
    return build_workspace(tmp_path / "ws", datetime.now(UTC), ZoneInfo("UTC"))


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[NotifySocket]:
    n = NotifySocket(tmp_path / "notify.sock")
    yield n
    n.sock.close()


@pytest.fixture
def daemons() -> Iterator[Callable[..., DaemonProcess]]:
    """Start daemons with `daemons(config, log_path, ...)`; all are ended after the test."""
    started: list[DaemonProcess] = []

    def start(config: Path, log: Path, **kw: Any) -> DaemonProcess:
        d = DaemonProcess(config, log, **kw)
        started.append(d)
        return d

    yield start
    for d in started:
        d.close()

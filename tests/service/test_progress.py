"""Backfill progress: a bar on a terminal, a log line per tenth of the way otherwise."""

from __future__ import annotations

import io

import pytest
from structlog.testing import capture_logs

from followup.service.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_a_bar_is_drawn_and_ends_with_a_newline() -> None:
    term = _Terminal()
    p = Progress("work", stream=term)
    with capture_logs() as logs:
        p.start(4)
        for _ in range(4):
            p.advance()
        p.finish()
    out = term.getvalue()
    assert "work: first sync [##############################] 4/4 writes" in out
    assert out.endswith("\n")
    assert [e["event"] for e in logs] == ["backfill.started"], "no progress log lines on a tty"


def test_off_a_terminal_progress_is_logged_at_most_every_tenth() -> None:
    stream = io.StringIO()
    p = Progress("work", stream=stream)
    with capture_logs() as logs:
        p.start(200)
        for _ in range(200):
            p.advance()
        p.finish()
    lines = [e for e in logs if e["event"] == "backfill.progress"]
    assert [e["percent"] for e in lines] == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert lines[-1]["done"] == 200
    assert stream.getvalue() == "", "nothing drawn off a terminal"


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_first_sync_shows_life_from_its_first_second(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    monkeypatch.setattr("followup.service.progress.time.monotonic", clock)
    term = _Terminal()
    p = Progress("work", stream=term)
    p.reading()
    assert term.getvalue().endswith("work: first sync: reading calendars and mail, planning "
                                    "(0 s)\r"), "drawn at once, before anything is known"
    clock.now += 7.2
    p.tick()
    assert term.getvalue().endswith("planning (7 s)\r")
    p.start(2)
    p.advance()
    p.advance()
    clock.now += 5
    p.tick()  # writing now: the reading line is not drawn again
    p.finish()
    assert "planning (12 s)" not in term.getvalue()
    assert term.getvalue().endswith("2/2 writes\r\n")


def test_off_a_terminal_a_long_reading_is_logged_now_and_then(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = _Clock()
    monkeypatch.setattr("followup.service.progress.time.monotonic", clock)
    p = Progress("work", stream=io.StringIO())
    with capture_logs() as logs:
        p.reading()
        for _ in range(70):  # a tick a second for 70 s
            clock.now += 1
            p.tick()
    assert [(e["event"], e.get("seconds")) for e in logs] == [
        ("backfill.reading", None), ("backfill.still_reading", 30),
        ("backfill.still_reading", 60)]

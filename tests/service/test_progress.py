"""Backfill progress: a bar on a terminal, a log line per tenth of the way otherwise."""

from __future__ import annotations

import io

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

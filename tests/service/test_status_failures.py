"""Failed writes are failures wherever they are shown (status, doctor), the log tells what was
done and why, and `followup retry` brings writes back. A real cycle on the demo workspace."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from followup.cli import main
from followup.config import load_config
from followup.ledger import Ledger, WriteState
from followup.model import BlockPayload, Meeting, Skip, WriteIntent, WriteKind

HOSTILE = "Board \x1b]52;c;ZWNobyBoaQ==\x07 sync \x1b[2J"


def _cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main([*args], out=out)
    return code, out.getvalue()


@pytest.fixture
def ran(workspace: Path) -> Path:
    """The demo workspace after one cycle, with one write given up and the account paused."""
    code, _ = _cli("run", "--once", "--config", str(workspace))
    assert code == 0
    config = load_config(workspace)
    now = datetime.now(UTC)
    name = config.accounts[0].name
    with Ledger.open(config.ledger_url()) as ledger:
        payload = BlockPayload("s", "d", now, now + timedelta(minutes=30))
        ledger.record_intents(name, [WriteIntent("given-up", WriteKind.BLOCK, payload,
                                                 now - timedelta(hours=1), "x@y.example")])
        ledger.begin_attempt("given-up")
        ledger.fail("given-up", f"InputError: cannot write {HOSTILE}", None, permanent=True)
        ledger.pause_account(name, "EnvironmentFailure: No space left on device: /srv/out",
                             now + timedelta(minutes=30))
        meeting = Meeting(uid="hostile@x", start=now - timedelta(hours=3),
                          end=now - timedelta(hours=2), title=HOSTILE)
        ledger.record_skips(name, meeting, [Skip("eve@x.example", "declined", "Declined.")])
    return workspace


def test_status_shows_failed_writes_as_failures_and_the_pause(ran: Path) -> None:
    code, text = _cli("status", "--config", str(ran))
    assert code == 0
    assert "FAILED" in text.splitlines()[3]  # the accounts table's header
    assert "Failed writes (1;" in text and "followup retry --failed" in text
    assert "block for x@y.example: InputError: cannot write" in text
    assert "writes paused until" in text and "No space left on device" in text
    assert "\x1b" not in text and "\\x1b" in text, "terminal escapes shown, never sent"
    upcoming = text.split("Upcoming touches", 1)[-1].split("\n\n", 1)[0]
    assert "x@y.example" not in upcoming, "a failed write is no upcoming touch"

    code, raw = _cli("status", "--json", "--config", str(ran))
    data = json.loads(raw)
    (account,) = data["accounts"]
    assert account["failed"] == 1 and account["paused_until"]
    assert data["failures"][0]["kind"] == "block"


def test_doctor_counts_failed_writes_and_a_paused_account_as_problems(ran: Path) -> None:
    code, text = _cli("doctor", "--config", str(ran))
    assert code == 1
    assert "1 write failed for good" in text and "followup retry --failed" in text
    assert "writes paused until" in text
    assert "All good" not in text


def test_log_tells_what_was_written_and_skipped_and_why(ran: Path) -> None:
    code, text = _cli("log", "--config", str(ran))
    assert code == 0
    assert text.splitlines()[0].split() == ["WHEN", "MEETING", "PERSON", "WHAT", "WHY"]
    assert "draft created" in text and "contact created" in text
    assert "block failed" in text and "skipped" in text and "Declined. (declined)" in text
    assert "\x1b" not in text and "\x07" not in text

    code, raw = _cli("log", "--json", "--config", str(ran))
    entries = [json.loads(line) for line in raw.splitlines()]
    assert entries and all(set(e) >= {"at", "meeting_uid", "person", "kind", "what", "why"}
                           for e in entries)
    assert {"created", "failed", "skipped"} <= {e["what"] for e in entries}
    eve = next(e for e in entries if e["person"] == "eve@x.example")
    assert eve["title"] == HOSTILE, "JSON keeps the data; json.dumps escapes it"
    assert "\x1b" not in raw

    code, raw = _cli("log", "--json", "--person", "EVE@x.example", "--config", str(ran))
    assert [e["person"] for e in map(json.loads, raw.splitlines())] == ["eve@x.example"]
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    code, text = _cli("log", "--since", tomorrow, "--config", str(ran))
    assert code == 0 and "Nothing in the log" in text


def test_log_refuses_a_bad_since_or_an_unknown_account(ran: Path) -> None:
    assert _cli("log", "--since", "last tuesday", "--config", str(ran))[0] == 2
    assert _cli("log", "--account", "nope", "--config", str(ran))[0] == 2


def test_retry_failed_puts_the_write_back_and_resumes_the_account(ran: Path) -> None:
    code, text = _cli("retry", "--failed", "--config", str(ran))
    assert code == 0 and "due again" in text
    config = load_config(ran)
    with Ledger.open(config.ledger_url()) as ledger:
        row = ledger.write("given-up")
        status = ledger.account_status(config.accounts[0].name)
    assert row is not None and row.state is WriteState.PENDING
    assert status is not None and status.backoff_until is None
    code, text = _cli("status", "--config", str(ran))
    assert "Failed writes" not in text and "writes paused" not in text

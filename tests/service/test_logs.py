"""A full cycle's log output carries no tokens and no message contents."""

from __future__ import annotations

import json
import mailbox
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from followup.demo.workspace import ADA, Person, make_event

from .helpers import append_config, run_followup

pytestmark = pytest.mark.slow

NOTE_MARKER = "ZEBRA-QUOKKA-7731"  # in a meeting's notes: ends up in the draft only
TOKEN_MARKER = "tok-SECRET-5512"  # in a token file followup reads


def test_logs_never_carry_tokens_or_meeting_notes(workspace: Path) -> None:
    end = datetime.now(UTC) - timedelta(hours=1)
    event = make_event(
        "marker@logs.example", "Coffee with Dana", end - timedelta(minutes=30), end,
        [ADA, Person("Dana Scully", "dana@fbi.example")],
        description=f"Dana asked about {NOTE_MARKER}. I promised the paper on it.",
    )
    (workspace.parent / "calendar" / "marker.ics").write_bytes(event.to_ical())
    append_config(workspace, """
[[accounts]]
kind = "microsoft"
name = "office"
client_id = "00000000-0000-0000-0000-000000000000"
authority_url = "http://127.0.0.1:9"
graph_url = "http://127.0.0.1:9/v1.0"
""")
    tokens = workspace.parent / "state" / "tokens"
    tokens.mkdir(parents=True)
    (tokens / "office.msal.json").write_text(json.dumps({
        "RefreshToken": {"x": {"secret": TOKEN_MARKER, "credential_type": "RefreshToken"}},
        "AccessToken": {"y": {"secret": TOKEN_MARKER, "credential_type": "AccessToken"}},
    }))
    (tokens / "office.msal.json").chmod(0o600)

    done = run_followup("--config", str(workspace), "--log-level", "debug", "run", "--once")
    assert done.returncode == 1, done.stderr  # the Microsoft account cannot work
    drafts = [m.get_payload(decode=True).decode() for m in
              mailbox.Maildir(workspace.parent / "Maildir" / ".Drafts", create=False)]
    assert any(NOTE_MARKER in d for d in drafts), "the note reached the draft"
    assert "cycle done" in done.stderr, "the log did cover the cycle"
    assert NOTE_MARKER not in done.stderr
    assert TOKEN_MARKER not in done.stderr
    assert NOTE_MARKER not in done.stdout and TOKEN_MARKER not in done.stdout

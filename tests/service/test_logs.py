"""A full cycle's log output carries no tokens and no message contents."""

from __future__ import annotations

import json
import mailbox
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from followup.config import GoogleAccount, load_config
from followup.demo.workspace import ADA, Person, make_event
from followup.providers import token_path
from followup.providers.google.scopes import scopes_for

from .helpers import append_config, run_followup

pytestmark = pytest.mark.slow

NOTE_MARKER = "ZEBRA-QUOKKA-7731"  # in a meeting's shareable notes: ends up in the draft only
TOKEN_MARKER = "tok-SECRET-5512"  # in token files followup reads and sends
REFRESH_MARKER = "1//refresh-SECRET-8841"
CLIENT_SECRET_MARKER = "GOCSPX-client-SECRET-3390"


class _RevokedGoogle(BaseHTTPRequestHandler):
    """Every API call is refused (401); the token endpoint says the grant was revoked."""

    def _json(self, code: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._json(401, {"error": {"code": 401, "message": "Request had invalid credentials.",
                                   "status": "UNAUTHENTICATED"}})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path.startswith("/token"):
            self._json(400, {"error": "invalid_grant",
                             "error_description": "Token has been expired or revoked."})
        else:
            self.do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def revoked_google() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RevokedGoogle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _google_token(path: Path, cfg: GoogleAccount) -> None:
    path.write_text(json.dumps({
        "token": TOKEN_MARKER, "refresh_token": REFRESH_MARKER,
        "client_id": "123.apps.googleusercontent.com", "client_secret": CLIENT_SECRET_MARKER,
        "token_uri": cfg.token_uri, "scopes": scopes_for(cfg),
        "expiry": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
    }))
    path.chmod(0o600)


def test_logs_never_carry_tokens_or_meeting_notes(workspace: Path, revoked_google: str) -> None:
    end = datetime.now(UTC) - timedelta(hours=1)
    event = make_event(
        "marker@logs.example", "Coffee with Dana", end - timedelta(minutes=30), end,
        [ADA, Person("Dana Scully", "dana@fbi.example")],
        description=f"> Dana asked about {NOTE_MARKER}.\nI promised the paper on it.",
    )
    (workspace.parent / "calendar" / "marker.ics").write_bytes(event.to_ical())
    append_config(workspace, """
[[accounts]]
kind = "microsoft"
name = "office"
client_id = "00000000-0000-0000-0000-000000000000"
authority_url = "http://127.0.0.1:9"
graph_url = "http://127.0.0.1:9/v1.0"

[[accounts]]
kind = "google"
name = "work"
calendar_url = "{g}/calendar/v3/"
gmail_url = "{g}/"
people_url = "{g}/"
token_uri = "{g}/token"
""".replace("{g}", revoked_google))
    tokens = workspace.parent / "state" / "tokens"
    tokens.mkdir(parents=True)
    (tokens / "office.msal.json").write_text(json.dumps({
        "RefreshToken": {"x": {"secret": TOKEN_MARKER, "credential_type": "RefreshToken"}},
        "AccessToken": {"y": {"secret": TOKEN_MARKER, "credential_type": "AccessToken"}},
    }))
    (tokens / "office.msal.json").chmod(0o600)
    config = load_config(workspace)
    google = next(a for a in config.accounts if isinstance(a, GoogleAccount))
    _google_token(token_path(config, "work"), google)

    done = run_followup("--config", str(workspace), "--log-level", "debug", "run", "--once")
    assert done.returncode == 1, done.stderr  # the Microsoft account cannot work
    drafts = [m.get_payload(decode=True).decode() for m in
              mailbox.Maildir(workspace.parent / "Maildir" / ".Drafts", create=False)]
    assert any(NOTE_MARKER in d for d in drafts), "the note reached the draft"
    assert "daemon.cycle_done" in done.stderr, "the log did cover the cycle"
    assert "work: needs reconnecting: Google refused the stored grant (invalid_grant" in \
        done.stdout, "the Google token was used, and refused by the token endpoint"
    for marker in (NOTE_MARKER, TOKEN_MARKER, REFRESH_MARKER, CLIENT_SECRET_MARKER):
        assert marker not in done.stderr
        assert marker not in done.stdout

"""`followup doctor` finds what is wrong with a setup and says what to do about each."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .helpers import append_config, run_followup

pytestmark = pytest.mark.slow


@pytest.fixture
def skewed_graph() -> Iterator[str]:
    """A loopback stand-in for Graph whose clock is two hours ahead of ours."""

    class Handler(BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def date_time_string(self, timestamp: float | None = None) -> str:
            return format_datetime(datetime.now(UTC) + timedelta(hours=2), usegmt=True)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1.0"
    server.shutdown()
    server.server_close()


def test_doctor_on_a_broken_setup_names_every_problem_and_its_fix(
    tmp_path: Path, skewed_graph: str
) -> None:
    state = tmp_path / "state"
    (state / "tokens").mkdir(parents=True)
    state.chmod(0o755)
    token = state / "tokens" / "office.msal.json"
    token.write_text("{}")
    token.chmod(0o644)
    config = tmp_path / "followup.toml"
    config.write_text(f"""
state_dir = "state"
[ledger]
url = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"
[[accounts]]
kind = "microsoft"
name = "office"
client_id = "00000000-0000-0000-0000-000000000000"
authority_url = "http://127.0.0.1:9"
graph_url = "{skewed_graph}"
[[accounts]]
kind = "microsoft"
name = "other"
client_id = "00000000-0000-0000-0000-000000000000"
authority_url = "http://127.0.0.1:9"
graph_url = "{skewed_graph}"
""")
    done = run_followup("--config", str(config), "doctor")
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert f"[FAIL] state dir {state} is mode 0755" in out
    assert f"-> chmod 700 {state}" in out
    assert f"[FAIL] {token} is mode 0644" in out
    assert f"-> chmod 600 {token}" in out
    assert "[FAIL] account other (microsoft)" in out
    assert "-> followup connect microsoft --account other" in out
    assert "[FAIL] clock: this machine is" in out and "s behind 127.0.0.1" in out
    assert "timedatectl set-ntp true" in out
    assert "[FAIL] ledger postgresql+psycopg://postgres@127.0.0.1:1/nothing unreachable" in out
    assert "-> check ledger.url" in out
    assert "Traceback" not in done.stderr


def test_doctor_on_a_working_setup_is_happy(workspace: Path) -> None:
    assert run_followup("--config", str(workspace), "run", "--once").returncode == 0
    done = run_followup("--config", str(workspace), "doctor")
    assert done.returncode == 0, done.stdout
    assert "[FAIL]" not in done.stdout
    assert "[skip] clock: no provider endpoint configured" in done.stdout
    assert "schema" in done.stdout and "(current)" in done.stdout
    assert "All good." in done.stdout


def test_doctor_lists_config_problems(tmp_path: Path) -> None:
    config = tmp_path / "followup.toml"
    config.write_text("[daemon]\npoll_seconds = 1\nbogus = 2\n")
    done = run_followup("--config", str(config), "doctor")
    assert done.returncode == 2
    assert "daemon.poll_seconds" in done.stdout and "daemon.bogus" in done.stdout


@pytest.mark.postgres
def test_run_and_doctor_with_a_postgresql_ledger(workspace: Path, postgres_url: str) -> None:
    """The compose deployment's shape: the ledger in PostgreSQL, not in the state dir."""
    append_config(workspace, f'[ledger]\nurl = "{postgres_url}"\n')
    done = run_followup("--config", str(workspace), "run", "--once")
    assert done.returncode == 0, done.stderr
    assert not (workspace.parent / "state" / "ledger.sqlite3").exists()
    doctor = run_followup("--config", str(workspace), "doctor")
    assert doctor.returncode == 0, doctor.stdout
    assert "[ok]   ledger postgresql+psycopg://" in doctor.stdout
    assert "(current)" in doctor.stdout
    status = run_followup("--config", str(workspace), "status", "--json")
    assert json.loads(status.stdout)["accounts"][0]["last_sync"] is not None

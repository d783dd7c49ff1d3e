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

from followup.initconfig import example_config

from .helpers import _env, append_config, run_followup

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
    assert "line 2: `daemon.poll_seconds` must be at least 10, not 1" in done.stdout
    assert "line 3: unknown key `bogus` in [daemon]" in done.stdout
    assert f"fix these lines in {config}" in done.stdout


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


def test_doctor_without_a_config_says_how_to_make_one(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "followup.toml"
    done = run_followup("--config", str(missing), "doctor")
    assert done.returncode == 2
    assert f"[FAIL] no config at {missing}" in done.stdout
    assert "`followup init` writes one there" in done.stdout
    assert "edit" not in done.stdout  # never "edit a file" that is not there
    assert "Traceback" not in done.stderr


def test_doctor_on_the_unedited_example_says_not_configured_yet(tmp_path: Path) -> None:
    config = tmp_path / "followup.toml"
    config.write_text(example_config())
    config.chmod(0o600)
    done = run_followup("--config", str(config), "doctor")
    assert done.returncode == 1, done.stdout
    assert "[FAIL] not configured yet: [user] addresses is empty" in done.stdout
    assert "[FAIL] not configured yet: no account reads a calendar" in done.stdout
    assert "Not configured yet" in done.stdout
    assert "All good" not in done.stdout


def test_doctor_names_missing_input_folders_and_unwritable_outputs(workspace: Path) -> None:
    ws = workspace.parent
    text = workspace.read_text()
    text = text.replace('calendars = ["calendar"]', 'calendars = ["calender"]')
    (ws / "a-file").write_text("")
    text = text.replace('contacts = "contacts"', 'contacts = "a-file/contacts"')
    text = text.replace('sent_folders = [".Sent"]', 'sent_folders = [".Snet"]')
    workspace.write_text(text)
    done = run_followup("--config", str(workspace), "doctor")
    assert done.returncode == 1, done.stdout
    out = done.stdout
    assert f"[FAIL] account demo: calendar {ws / 'calender'} does not exist" in out
    assert f"[FAIL] account demo: mail folder {ws / 'Maildir' / '.Snet'} does not exist" in out
    assert (f"[FAIL] account demo: contacts folder {ws / 'a-file' / 'contacts'} does not exist"
            " and cannot be created here") in out
    assert f"[ok]   account demo: drafts folder {ws / 'Maildir' / '.Drafts'} is writable" in out
    assert "All good" not in out


def test_doctor_names_a_misspelt_maildir_that_would_be_created_where_nobody_reads(
    workspace: Path,
) -> None:
    ws = workspace.parent
    workspace.write_text(workspace.read_text().replace('"Maildir"', '"Mialdir"'))
    done = run_followup("--config", str(workspace), "doctor")
    assert done.returncode == 1
    assert f"[FAIL] account demo: Maildir {ws / 'Mialdir'} does not exist" in done.stdout
    assert "followup never creates a Maildir root" in done.stdout


def test_doctor_flags_config_templates_and_outputs_others_can_write(workspace: Path) -> None:
    ws = workspace.parent
    templates = ws / "templates"
    templates.mkdir()
    (templates / "first_touch.txt.j2").write_text("Hi {{ first_name }}")
    (templates / "first_touch.txt.j2").chmod(0o666)
    append_config(workspace, "")
    workspace.write_text(f'templates_dir = "{templates}"\n' + workspace.read_text())
    workspace.chmod(0o620)
    (ws / "contacts").chmod(0o777)
    done = run_followup("--config", str(workspace), "doctor")
    assert done.returncode == 1, done.stdout
    out = done.stdout
    assert f"[FAIL] config {workspace} is writable by its group (mode 0620)" in out
    assert f"-> chmod go-w {workspace}" in out
    assert (f"[FAIL] template {templates / 'first_touch.txt.j2'} is writable by everyone"
            in out)
    assert f"[FAIL] account demo: contacts folder {ws / 'contacts'} is writable by everyone" in out
    assert f"templates dir {templates} is writable" not in out  # 0755: fine
    ws.chmod(0o777)
    out = run_followup("--config", str(workspace), "doctor").stdout
    assert f"[FAIL] config folder {ws} is writable by everyone (mode 0777)" in out
    ws.chmod(0o1777)  # sticky, like /tmp: nobody else can replace the file
    out = run_followup("--config", str(workspace), "doctor").stdout
    assert f"config folder {ws} is writable" not in out


def test_doctor_checks_that_the_installed_unit_can_write_the_outputs(
    workspace: Path, tmp_path: Path
) -> None:
    home = workspace.parent  # the workspace's folders live "in the home folder"
    env = _env(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    unit_dir = home / ".config" / "systemd" / "user"
    unit_dir.mkdir(parents=True)
    shipped = (Path(__file__).resolve().parents[2] / "systemd" / "followup.service").read_text()
    (unit_dir / "followup.service").write_text(shipped)
    done = run_followup("--config", str(workspace), "doctor", env=env)
    assert done.returncode == 1, done.stdout
    assert f"[FAIL] systemd unit {unit_dir / 'followup.service'} cannot write " in done.stdout
    assert "ProtectHome=read-only and no ReadWritePaths= for them" in done.stdout
    assert "-> followup install-unit --user --force" in done.stdout

    fixed = run_followup("--config", str(workspace), "install-unit", "--user", "--force",
                         env=env)
    assert fixed.returncode == 0, fixed.stderr
    done = run_followup("--config", str(workspace), "doctor", env=env)
    assert f"[ok]   systemd unit {unit_dir / 'followup.service'} can write every output" \
        in done.stdout


def test_doctor_runs_the_ledgers_integrity_check(workspace: Path) -> None:
    assert run_followup("--config", str(workspace), "run", "--once").returncode == 0
    ok = run_followup("--config", str(workspace), "doctor")
    assert "passes its integrity check" in ok.stdout
    db = workspace.parent / "state" / "ledger.sqlite3"
    data = bytearray(db.read_bytes())
    for page in range(1, len(data) // 4096):  # scribble over every page but the header
        data[page * 4096 + 100: page * 4096 + 400] = b"\xff" * 300
    db.write_bytes(bytes(data))
    done = run_followup("--config", str(workspace), "doctor")
    assert done.returncode == 1
    assert "[FAIL] ledger sqlite:///" in done.stdout
    assert "All good" not in done.stdout
    assert "Traceback" not in done.stdout + done.stderr

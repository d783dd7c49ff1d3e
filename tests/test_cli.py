"""The `followup` command as a user meets it: one-line errors on stderr, never a traceback,
titles from invitations shown but never obeyed by the terminal, quiet by default on a
terminal, priorities for journald, completion and a man page generated from the parser."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import structlog

from followup.demo.workspace import ADA, Person, build_workspace, make_event
from followup.log import configure_logging, level_for
from followup.terminal import printable

pytestmark = pytest.mark.slow


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NOTIFY_SOCKET", "FOLLOWUP_CONFIG", "JOURNAL_STREAM", "NO_COLOR")}
    env.update(extra)
    return env


def followup(*args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "followup", *args], capture_output=True,
                          text=True, timeout=120, env=_env(), **kw)  # type: ignore[call-overload]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return build_workspace(tmp_path / "ws", datetime.now(UTC), ZoneInfo("UTC"))


def _corrupt_ledger(workspace: Path) -> None:
    assert followup("--config", str(workspace), "run", "--once").returncode == 0
    db = workspace.parent / "state" / "ledger.sqlite3"
    data = bytearray(db.read_bytes())
    data[16:100] = b"\xee" * 84  # the header: page size, formats, counters
    db.write_bytes(bytes(data))


@pytest.mark.parametrize("command", [["plan"], ["undo", "--yes"], ["status"]])
def test_a_corrupt_ledger_is_one_line_on_stderr(workspace: Path, command: list[str]) -> None:
    _corrupt_ledger(workspace)
    done = followup("--config", str(workspace), *command)
    assert "Traceback" not in done.stderr + done.stdout
    if command == ["status"]:  # status shows the ledger's state in its report
        assert done.returncode == 0
        assert "cannot open the ledger" in done.stdout or "cannot" in done.stdout
        return
    assert done.returncode == 1, done.stderr
    errors = [line for line in done.stderr.splitlines() if not line.startswith("{")]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith("followup: the ledger ")
    assert "followup doctor" in errors[0]


def test_a_reader_that_goes_away_is_not_an_error_message(workspace: Path) -> None:
    """`followup plan | head -1`: no traceback, no 'Exception ignored' at exit."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "followup", "--config", str(workspace), "plan"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before the first line is written: every write hits EPIPE
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(60) == 141
    assert "Traceback" not in err
    assert "Exception ignored" not in err
    assert "BrokenPipe" not in err


def test_plan_with_head_in_a_shell_pipeline(workspace: Path) -> None:
    if shutil.which("sh") is None or shutil.which("head") is None:
        pytest.skip("no sh/head")
    cmd = (f"{sys.executable} -m followup --config {workspace} plan | head -c 10; "
           f"echo; {sys.executable} -m followup --config {workspace} plan | head -n 1")
    done = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=120,
                          env=_env())
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


def test_terminal_escapes_in_a_meeting_title_never_reach_the_terminal(workspace: Path) -> None:
    end = datetime.now(UTC) - timedelta(hours=1)
    title = "Q3 \x1b]52;c;ZWNobyBwd25lZA==\x07plan\x1b[2J \u202eevil\u202c"
    event = make_event("esc@cli.example", title, end - timedelta(minutes=30), end,
                       [ADA, Person("Eve \x1b[31mRed", "eve@partner.example")],
                       status="CANCELLED")  # shown under "Skipped", with its title
    (workspace.parent / "calendar" / "esc.ics").write_bytes(event.to_ical())
    done = followup("--config", str(workspace), "plan")
    assert done.returncode == 0, done.stderr
    for raw in ("\x1b", "\x07", "\u202e", "\u202c"):
        assert raw not in done.stdout
        assert raw not in done.stderr
    assert "Q3 \\x1b]52;c;ZWNobyBwd25lZA==\\x07plan\\x1b[2J \\u202eevil\\u202c" in done.stdout


def test_printable_keeps_ordinary_text_and_escapes_the_rest() -> None:
    assert printable("Café Ünïcode 東京 — ok") == "Café Ünïcode 東京 — ok"
    assert printable("a\x00b\x1bc\x9bd\u200be\u2028") == "a\\x00b\\x1bc\\x9bd\\u200be\\u2028"
    assert printable("two\nlines", keep_newlines=True) == "two\nlines"
    assert printable("two\nlines") == "two\\x0alines"


def test_config_errors_go_to_stderr_and_stdout_stays_empty(tmp_path: Path) -> None:
    config = tmp_path / "followup.toml"
    config.write_text('[[accounts]]\nkind = "local"\ncalender = []\n')
    for command in (["plan"], ["run", "--once"], ["status"], ["undo", "--yes"]):
        done = followup("--config", str(config), *command)
        assert done.returncode == 2, command
        assert done.stdout == "", command
        assert "line 3: unknown key `calender` in [[accounts]] #1 (did you mean `calendars`?)" \
            in done.stderr


def test_a_missing_config_points_at_init_without_a_traceback(tmp_path: Path) -> None:
    done = followup("--config", str(tmp_path / "nope.toml"), "plan")
    assert done.returncode == 2
    assert done.stderr.strip() == (f"followup: there is no config at {tmp_path / 'nope.toml'}; "
                                   "`followup init` writes one (or give --config FILE)")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _log_on_a_terminal(monkeypatch: pytest.MonkeyPatch, *, verbosity: int,
                       no_color: bool = False) -> str:
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    stream = _Tty()
    level = level_for(explicit=None, verbosity=verbosity, stream=stream)
    configure_logging(level=level, stream=stream)
    log = structlog.get_logger("t")
    log.info("daemon.cycle_done", account="work")
    log.warning("daemon.account_unavailable", error="down \x1b[2J")
    return stream.getvalue()


def test_info_is_hidden_on_a_terminal_unless_verbose(monkeypatch: pytest.MonkeyPatch) -> None:
    quiet = _log_on_a_terminal(monkeypatch, verbosity=0)
    assert "daemon.cycle_done" not in quiet
    assert "daemon.account_unavailable" in quiet
    assert "\x1b[2J" not in quiet and "\\x1b[2J" in quiet
    assert "daemon.cycle_done" in _log_on_a_terminal(monkeypatch, verbosity=1)
    assert "daemon.account_unavailable" not in _log_on_a_terminal(monkeypatch, verbosity=-1)


def test_no_color_turns_colours_off(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = _log_on_a_terminal(monkeypatch, verbosity=1, no_color=True)
    assert "\x1b[" not in plain
    coloured = _log_on_a_terminal(monkeypatch, verbosity=1)
    assert "\x1b[" in coloured


def test_without_a_terminal_info_is_logged_and_explicit_level_wins() -> None:
    pipe = io.StringIO()
    assert level_for(explicit=None, verbosity=0, stream=pipe) == "info"
    assert level_for(explicit="debug", verbosity=-1, stream=_Tty()) == "debug"
    assert level_for(explicit=None, verbosity=2, stream=_Tty()) == "debug"


def test_under_journald_every_line_carries_its_priority(workspace: Path, tmp_path: Path) -> None:
    log_file = tmp_path / "journal"
    with log_file.open("w") as err:
        st = os.fstat(err.fileno())
        env = _env(JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
        ws = workspace.read_text()
        workspace.write_text(ws + '\n[[accounts]]\nkind = "microsoft"\nname = "office"\n'
                             'client_id = "x"\nauthority_url = "http://127.0.0.1:9"\n')
        done = subprocess.run([sys.executable, "-m", "followup", "--config", str(workspace),
                               "run", "--once"], stdout=subprocess.PIPE, stderr=err, text=True,
                              timeout=120, env=env)
    assert done.returncode == 1
    lines = [line for line in log_file.read_text().splitlines() if line]
    assert lines and all(line[:3] in ("<3>", "<4>", "<6>", "<7>") for line in lines), lines
    assert any(line.startswith('<6>{') and '"daemon.cycle_done"' in line for line in lines)
    assert any(line.startswith("<3>{") and '"daemon.account_needs_reconnect"' in line
               for line in lines)


def test_completion_scripts_are_generated_from_the_parser() -> None:
    done = followup("completion", "bash")
    assert done.returncode == 0
    for command in ("run", "plan", "doctor", "init", "install-unit", "completion"):
        assert command in done.stdout
    if shutil.which("bash"):
        check = subprocess.run(["bash", "-n"], input=done.stdout, text=True,
                               capture_output=True)
        assert check.returncode == 0, check.stderr
    assert followup("completion", "zsh").returncode == 0


def test_the_man_page_is_generated_from_the_parser() -> None:
    done = followup("man")
    assert done.returncode == 0
    page = done.stdout
    assert page.startswith('.TH FOLLOWUP "1"')
    assert "followup \\- drafts your meeting follow\\-ups (never sends them)" in page
    for command in ("run", "plan", "status", "undo", "doctor", "init", "install\\-unit"):
        assert f"'followup {command}'" in page, command
    if shutil.which("groff"):
        shown = subprocess.run(["groff", "-man", "-Tutf8"], input=page, text=True,
                               capture_output=True)
        assert shown.returncode == 0 and "install-unit" in shown.stdout


def test_the_docs_name_no_developer_machine_paths() -> None:
    import re

    root = Path(__file__).resolve().parents[1]
    docs = [root / "README.md", *sorted((root / "docs").glob("*.md")),
            *sorted((root / "deploy").glob("*.md"))]
    leaks = [f"{d.name}: {m.group(0)}" for d in docs
             for m in re.finditer(r"(?<![\w.~$}])/(root|work|home/[a-z]+|tmp/pytest)/[\w./-]+",
                                  d.read_text())]
    assert leaks == []


def test_log_events_share_one_naming_style() -> None:
    """`area.what_happened`, snake case: so a whole area is one prefix to filter on."""
    import ast
    import re

    style = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
    src = Path(__file__).resolve().parents[1] / "src" / "followup"
    odd = []
    for f in sorted(src.rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("debug", "info", "warning", "error", "exception",
                                           "critical")
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in ("log", "bound", "logger")
                    and node.args and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)
                    and not style.match(node.args[0].value)):
                odd.append(f"{f.relative_to(src)}:{node.lineno} {node.args[0].value!r}")
    assert odd == []


def test_library_errors_are_translated_into_one_line() -> None:
    import sqlite3

    import requests
    from sqlalchemy.exc import DatabaseError

    from followup.cli import explain
    from followup.errors import ProviderError

    try:
        requests.get("http://user:secret@127.0.0.1:9/calendar/private-abc123.ics", timeout=2)
    except requests.RequestException as e:
        said = explain(e)
    assert said == "cannot reach 127.0.0.1: ConnectionError (check the network and the URL)"
    damaged = DatabaseError("SELECT 1", {}, sqlite3.DatabaseError("file is not a database"))
    assert explain(damaged) == ("the ledger cannot be used: file is not a database "
                                "(DatabaseError); `followup doctor` checks it")
    assert explain(FileNotFoundError(2, "No such file or directory", "/x/y.ics")) == \
        "No such file or directory: /x/y.ics"
    assert explain(ProviderError("Graph said no")) == "Graph said no"
    assert explain(KeyError("k")).startswith("unexpected KeyError: 'k' (a bug: please report")


def test_status_shows_an_error_holding_escapes_inert(workspace: Path) -> None:
    from followup.config import load_config
    from followup.ledger import Ledger

    assert followup("--config", str(workspace), "run", "--once").returncode == 0
    with Ledger.open(load_config(workspace).ledger_url()) as ledger:
        ledger.set_account_status("demo", last_error="server said \x1b]0;pwned\x07 no")
    done = followup("--config", str(workspace), "status")
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
    assert "server said \\x1b]0;pwned\\x07 no" in done.stdout

"""An idle `run --once`, `status` and `plan` answer from the last round's snapshot, exactly as
the full commands would, and never once anything a cycle reads has changed or is due.

The commands run in-process through cli.main, on a local workspace with one meeting that
ended (the first run writes its contact, draft and block) and one still ahead.
"""

from __future__ import annotations

import io
import json
import mailbox
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from followup import cli, commands
from followup.config import load_config
from followup.demo.workspace import ADA, Person, make_event
from followup.engine.cycle import CycleReport
from followup.service import daemon, remember, snapshot, status
from followup.service.lock import StateLock

NOW = datetime.now(UTC).replace(microsecond=0)
AHEAD_END = NOW + timedelta(hours=3)
GRACE = timedelta(minutes=10)  # the config's default grace_minutes


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace and its config; files written by a run count as settled at once."""
    monkeypatch.setattr(snapshot, "RACY_SECONDS", 0.0)
    monkeypatch.delenv(snapshot.DISABLE_ENV, raising=False)
    for d in ("calendar", "contacts", "followups"):
        (tmp_path / d).mkdir()
    md = mailbox.Maildir(tmp_path / "Maildir", create=True)
    md.add_folder("Sent")
    md.add_folder("Drafts")
    guest = Person("Grace Hopper", "grace@navy.example")
    for uid, end in (("ended", NOW - timedelta(hours=2)), ("ahead", AHEAD_END)):
        cal = make_event(f"{uid}@test", f"Coffee {uid}", end - timedelta(minutes=30), end,
                         [guest], description="Talked about compilers.")
        (tmp_path / "calendar" / f"{uid}.ics").write_bytes(cal.to_ical())
    config = tmp_path / "followup.toml"
    config.write_text(
        f'state_dir = "{tmp_path / "state"}"\n[user]\nname = "Ada Lovelace"\n'
        f'addresses = ["{ADA.email}"]\ntimezone = "UTC"\n'
        # Every hour a working hour: the block is written now, whatever day the test runs.
        '[schedule]\nworking_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]\n'
        'day_start = "00:00"\nday_end = "23:59"\n'
        f'[[accounts]]\nkind = "local"\n'
        f'name = "work"\ncalendars = ["{tmp_path / "calendar"}"]\n'
        f'maildir = "{tmp_path / "Maildir"}"\ncontacts = "{tmp_path / "contacts"}"\n'
        f'followups = "{tmp_path / "followups"}"\n')
    return config


def followup(config: Path, *argv: str, full: bool = False) -> tuple[int, str]:
    """Run one command in-process: (exit code, stdout). `full` turns the snapshot off."""
    out = io.StringIO()
    before = os.environ.pop(snapshot.DISABLE_ENV, None)
    if full:
        os.environ[snapshot.DISABLE_ENV] = "1"
    try:
        code = cli.main(["--config", str(config), "--log-level", "error", *argv], out=out)
    finally:
        os.environ.pop(snapshot.DISABLE_ENV, None)
        if before is not None:
            os.environ[snapshot.DISABLE_ENV] = before
    return code, out.getvalue()


@pytest.fixture
def full_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names of the full commands that ran (each still runs as it would)."""
    ran: list[str] = []

    def counted(name: str, fn: Callable[..., int]) -> Callable[..., int]:
        def run(*args: object, **kwargs: object) -> int:
            ran.append(name)
            return fn(*args, **kwargs)
        return run

    monkeypatch.setattr(daemon, "run_daemon", counted("run", daemon.run_daemon))
    monkeypatch.setattr(status, "show_status", counted("status", status.show_status))
    monkeypatch.setattr(commands, "plan_command", counted("plan", commands.plan_command))
    yield ran


def settle(config: Path) -> None:
    """The first run writes; the second, with nothing new, leaves a snapshot."""
    assert followup(config, "run", "--once")[0] == 0
    assert followup(config, "run", "--once")[0] == 0
    assert snapshot.holding(config, "run") is not None


def test_idle_commands_answer_exactly_as_the_full_ones(ws: Path,
                                                       full_runs: list[str]) -> None:
    settle(ws)
    for argv in (("status",), ("status", "--json"), ("plan",), ("run", "--once")):
        full_runs.clear()
        fast = followup(ws, *argv)
        assert full_runs == [], f"{argv} ran in full"
        full = followup(ws, *argv, full=True)
        assert full_runs == [argv[0]]
        assert fast == full, argv
    # Reading the ledger in full (status, plan) changed nothing it vouches for.
    assert snapshot.holding(ws, "run") is not None
    assert "work: ok, 0 meetings synced" in followup(ws, "run", "--once")[1]
    assert "nothing new" in followup(ws, "plan")[1]


def _touch_calendar(ws: Path) -> None:
    f = ws.parent / "calendar" / "ahead.ics"
    st = f.stat()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def _add_event(ws: Path) -> None:
    end = NOW + timedelta(days=1)
    cal = make_event("new@test", "Lunch", end - timedelta(hours=1), end,
                     [Person("Alan Turing", "alan@bletchley.example")])
    (ws.parent / "calendar" / "new.ics").write_bytes(cal.to_ical())


def _delete_draft(ws: Path) -> None:
    drafts = ws.parent / "Maildir" / ".Drafts" / "cur"
    for f in [*drafts.iterdir(), *(drafts.parent / "new").iterdir()]:
        f.unlink()


def _edit_contact(ws: Path) -> None:
    card = next((ws.parent / "contacts").iterdir())
    card.write_bytes(card.read_bytes().replace(b"END:VCARD", b"NOTE:mine\r\nEND:VCARD"))


def _remove_block(ws: Path) -> None:
    next((ws.parent / "followups").iterdir()).unlink()


def _sent_mail(ws: Path) -> None:
    mailbox.Maildir(ws.parent / "Maildir" / ".Sent", create=False).add(
        f"From: {ADA.email}\nTo: grace@navy.example\nSubject: hi\n\nhello\n")


@pytest.mark.parametrize("change", [_touch_calendar, _add_event, _delete_draft, _edit_contact,
                                    _remove_block, _sent_mail])
def test_a_changed_input_runs_the_cycle(ws: Path, change: Callable[[Path], None]) -> None:
    settle(ws)
    change(ws)
    assert snapshot.holding(ws, "run") is None
    assert snapshot.holding(ws, "plan") is None
    # `status` reads the ledger and the config, not the calendars or the mail: it still holds.
    assert snapshot.holding(ws, "status") is not None


def test_an_edited_config_or_a_written_ledger_runs_every_command_in_full(
        ws: Path, full_runs: list[str]) -> None:
    settle(ws)
    ws.write_text(ws.read_text() + "# a comment is an edit too\n")
    for command in ("run", "status", "plan"):
        assert snapshot.holding(ws, command) is None
    settle(ws)
    assert followup(ws, "people", "pause", "grace@navy.example")[0] == 0  # writes the ledger
    for command in ("run", "status", "plan"):
        assert snapshot.holding(ws, command) is None
    full_runs.clear()
    assert "paused" in followup(ws, "status")[1]
    assert full_runs == ["status"]


def test_it_holds_until_the_next_meeting_is_due_and_an_hour_at_most(
        ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settle(ws)
    snap = snapshot.holding(ws, "run")
    assert snap is not None
    due = (AHEAD_END + GRACE).timestamp()
    assert snap["valid_until"] == min(due, datetime.fromisoformat(
        snap["taken_at"]).timestamp() + snapshot.FULL_CYCLE_EVERY)
    monkeypatch.setattr(snapshot.time, "time", lambda: snap["valid_until"])
    assert snapshot.holding(ws, "run") is None


def test_the_meeting_ahead_bounds_it_when_it_ends_within_the_hour(ws: Path) -> None:
    soon = NOW + timedelta(minutes=20)
    cal = make_event("ahead@test", "Coffee ahead", soon - timedelta(minutes=30), soon,
                     [Person("Grace Hopper", "grace@navy.example")])
    (ws.parent / "calendar" / "ahead.ics").write_bytes(cal.to_ical())
    settle(ws)
    snap = snapshot.holding(ws, "run")
    assert snap is not None and snap["valid_until"] == (soon + GRACE).timestamp()


def test_files_written_just_now_are_not_vouched_for(ws: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshot, "RACY_SECONDS", 2.0)
    assert followup(ws, "run", "--once")[0] == 0  # wrote a draft, a card, a block just now
    state = ws.parent / "state"
    assert not (state / snapshot.NAME).exists()
    old = time.time_ns() - 10 * 1_000_000_000
    for root, _, files in os.walk(ws.parent):
        for f in files:
            os.utime(Path(root) / f, ns=(old, old))
    assert followup(ws, "run", "--once")[0] == 0
    assert (state / snapshot.NAME).exists()
    assert (state / snapshot.NAME).stat().st_mode & 0o777 == 0o600


def test_a_running_daemon_is_reported_by_the_full_command(ws: Path) -> None:
    settle(ws)
    with StateLock(ws.parent / "state"):
        assert followup(ws, "run", "--once")[0] == daemon.EXIT_LOCKED
        assert followup(ws, "status")[0] == 0  # status takes no lock


def test_a_failed_cycle_leaves_no_snapshot(ws: Path) -> None:
    settle(ws)
    (ws.parent / "calendar").rename(ws.parent / "gone")
    assert followup(ws, "run", "--once")[0] != 0
    assert not (ws.parent / "state" / snapshot.NAME).exists()


def test_a_debug_run_always_runs_the_cycle(ws: Path, full_runs: list[str]) -> None:
    settle(ws)
    full_runs.clear()
    out = io.StringIO()
    assert cli.main(["--config", str(ws), "--log-level", "debug", "run", "--once"],
                    out=out) == 0
    assert full_runs == ["run"]


def test_only_what_a_stat_can_vouch_for(ws: Path) -> None:
    """No snapshot for a cloud account or a PostgreSQL ledger; a URL calendar keeps `status`
    only (its changes are known by fetching it)."""
    settle(ws)
    base = ws.read_text()
    reports = {"work": CycleReport("work")}
    url = base.replace(f'calendars = ["{ws.parent / "calendar"}"]',
                       'calendars = ["https://calendar.example/ics"]')
    ws.write_text(url)
    snap = remember._snapshot(ws, "x", load_config(ws), reports, NOW)
    assert snap is not None and snap["sources"] is None and snap["plan_text"] is None
    assert snap["run_lines"] is None and snap["status_text"]
    pg = base.replace("[user]", '[ledger]\nurl = "postgresql+psycopg://h/db"\n[user]')
    ws.write_text(pg)
    assert remember._snapshot(ws, "x", load_config(ws), reports, NOW) is None
    cloud = base + '[[accounts]]\nkind = "google"\nname = "g"\n'
    ws.write_text(cloud)
    reports["g"] = CycleReport("g")
    assert remember._snapshot(ws, "x", load_config(ws), reports, NOW) is None


def test_the_snapshot_names_no_secret_and_no_message_body(ws: Path) -> None:
    settle(ws)
    text = (ws.parent / "state" / snapshot.NAME).read_text()
    assert "Talked about compilers" not in text
    assert json.loads(text)["format"] == snapshot.FORMAT

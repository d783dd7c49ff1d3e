"""`followup init`: a first config that the daemon accepts, from answers or flags, with the
folders khal, khard and mutt already use."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from followup.config import LocalAccount, load_config
from followup.initconfig import detect, example_config, run_init


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder with khal, khard and mutt set up the way their docs suggest."""
    h = tmp_path / "home"
    for d in ("calendars/work", "calendars/family", "contacts/main", "Mail/INBOX/cur",
              "Mail/INBOX/new", "Mail/Drafts/cur", "Mail/Sent/cur"):
        (h / d).mkdir(parents=True)
    (h / ".config" / "khal").mkdir(parents=True)
    (h / ".config" / "khal" / "config").write_text(
        "[calendars]\n  [[mine]]\n    path = ~/calendars/*\n    type = discover\n"
        "[locale]\ntimeformat = %H:%M\n")
    (h / ".config" / "khard").mkdir(parents=True)
    (h / ".config" / "khard" / "khard.conf").write_text(
        "[addressbooks]\n[[main]]\npath = ~/contacts/main/\n[general]\ndefault_action = list\n")
    (h / ".muttrc").write_text('set folder = "~/Mail"\nset spoolfile = "+INBOX"\n'
                               "set postponed=+Drafts\nset record = '=Sent'\n")
    monkeypatch.setenv("HOME", str(h))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    return h


def test_detects_the_folders_of_khal_khard_and_mutt(home: Path) -> None:
    found = detect(home)
    assert found.calendars == [str(home / "calendars/family"), str(home / "calendars/work")]
    assert found.contacts == str(home / "contacts/main")
    assert found.maildir == str(home / "Mail")
    assert (found.drafts_folder, found.sent_folder, found.inbox_folder) == (
        "Drafts", "Sent", "INBOX")


def test_init_with_flags_writes_a_config_the_daemon_accepts(home: Path) -> None:
    path = home / ".config" / "followup" / "followup.toml"
    out, err = io.StringIO(), io.StringIO()
    code = run_init(path, name="Ada Lovelace", addresses=["ada@example.org", "ada@home.example"],
                    timezone="Europe/London", yes=True, force=False, out=out, err=err)
    assert code == 0, err.getvalue()
    assert path.stat().st_mode & 0o777 == 0o600
    config = load_config(path)
    assert config.user.name == "Ada Lovelace"
    assert config.user.addresses == ["ada@example.org", "ada@home.example"]
    assert config.user.timezone == "Europe/London"
    local = config.accounts[0]
    assert isinstance(local, LocalAccount)
    assert local.calendars == [str(home / "calendars/family"), str(home / "calendars/work")]
    assert local.maildir == str(home / "Mail")
    assert local.drafts_folder == "Drafts"
    assert local.sent_folders == ["Sent"]
    assert local.received_folders == local.invitations_folders == ["INBOX"]
    assert local.contacts == str(home / "contacts/main")
    text = path.read_text()
    assert text.count("#") > 40, "the comments of the example are kept"
    assert "found khal" in out.getvalue() and "followup doctor" in out.getvalue()


def test_init_asks_on_a_terminal_and_asks_again_after_a_bad_answer(home: Path) -> None:
    answers: Iterator[str] = iter(["Grace Hopper", "grace at navy", "grace@navy.example",
                                   "Mars/Base", "America/New_York"])
    asked: list[str] = []

    def ask(question: str) -> str:
        asked.append(question)
        return next(answers)

    path = home / "f.toml"
    out = io.StringIO()
    assert run_init(path, name=None, addresses=[], timezone=None, yes=False, force=False,
                    out=out, err=io.StringIO(), ask=ask) == 0
    config = load_config(path)
    assert (config.user.name, config.user.addresses, config.user.timezone) == (
        "Grace Hopper", ["grace@navy.example"], "America/New_York")
    assert len(asked) == 5
    assert "'grace' is not an email address: An email address must have an @-sign" \
        in out.getvalue()
    assert "unknown time zone 'Mars/Base'" in out.getvalue()


def test_init_never_replaces_a_config_without_force(home: Path) -> None:
    path = home / "f.toml"
    path.write_text("# mine\n")
    err = io.StringIO()
    assert run_init(path, name="A", addresses=[], timezone="UTC", yes=True, force=False,
                    out=io.StringIO(), err=err) == 1
    assert path.read_text() == "# mine\n"
    assert "already exists" in err.getvalue()
    assert run_init(path, name="A", addresses=[], timezone="UTC", yes=True, force=True,
                    out=io.StringIO(), err=io.StringIO()) == 0


def test_init_refuses_answers_that_would_make_a_broken_config(home: Path) -> None:
    err = io.StringIO()
    code = run_init(home / "f.toml", name="A", addresses=["not-an-address"],
                    timezone="Nowhere/Land", yes=True, force=False, out=io.StringIO(), err=err)
    assert code == 2
    assert not (home / "f.toml").exists()
    assert "`user.addresses`: 'not-an-address' is not an email address" in err.getvalue()
    assert "unknown time zone 'Nowhere/Land'" in err.getvalue()


def test_init_without_other_tools_still_writes_a_valid_config(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / "f.toml"
    assert run_init(path, name="A", addresses=["a@example.org"], timezone="UTC", yes=True,
                    force=False, out=io.StringIO(), err=io.StringIO()) == 0
    config = load_config(path)
    assert config.accounts == [LocalAccount()]


def test_the_example_config_ships_in_the_package_and_matches_the_repository() -> None:
    repo = Path(__file__).resolve().parents[1] / "config" / "followup.example.toml"
    assert example_config() == repo.read_text()


def test_init_from_the_command_line(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path)}
    env.pop("FOLLOWUP_CONFIG", None)
    path = tmp_path / "cfg" / "followup.toml"
    done = subprocess.run(
        [sys.executable, "-m", "followup", "--config", str(path), "init", "--name", "Ada",
         "--address", "ada@example.org", "--timezone", "UTC", "--yes"],
        capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert load_config(path).user.addresses == ["ada@example.org"]
    doctor = subprocess.run([sys.executable, "-m", "followup", "--config", str(path), "doctor"],
                            capture_output=True, text=True, timeout=120, env=env)
    assert "not configured yet: no account reads a calendar" in doctor.stdout

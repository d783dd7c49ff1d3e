"""The config: the example file documents the defaults, and every problem is reported at once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from followup.config import (
    Config,
    ConfigError,
    GoogleAccount,
    LocalAccount,
    MicrosoftAccount,
    load_config,
    parse_config,
)

ROOT = Path(__file__).resolve().parents[1]


def test_example_config_shows_every_default() -> None:
    example = parse_config((ROOT / "config" / "followup.example.toml").read_text())
    documented = example.model_dump(exclude={"accounts"})
    assert documented == Config().model_dump(exclude={"accounts"})
    assert example.accounts == [LocalAccount()]


@pytest.mark.parametrize("model", [LocalAccount, GoogleAccount, MicrosoftAccount])
def test_example_config_mentions_every_account_setting(model: type[BaseModel]) -> None:
    text = (ROOT / "config" / "followup.example.toml").read_text()
    missing = [f for f in model.model_fields if not re.search(rf"^#? ?{f} =", text, re.M)]
    assert missing == []


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    cfg = tmp_path / "followup.toml"
    cfg.write_text(
        '[user]\ntimezone = "Mars/Olympus"\n'
        "[schedule]\nblock_minutes = 1\nweekly_day = \"someday\"\n"
        '[[accounts]]\nkind = "carrier-pigeon"\n'
    )
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    text = "\n".join(e.value.problems)
    assert "Mars/Olympus" in text
    assert "schedule.block_minutes" in text
    assert "schedule.weekly_day" in text
    assert "accounts.0" in text
    assert len(e.value.problems) >= 4


def test_broken_toml_is_one_clear_problem(tmp_path: Path) -> None:
    cfg = tmp_path / "followup.toml"
    cfg.write_text("[user\nname = 1")
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    assert e.value.problems[0].startswith("not valid TOML")


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "followup.toml"
    cfg.write_text(
        'state_dir = "state"\n[[accounts]]\nkind = "local"\ncalendars = ["cal", '
        '"https://example.org/basic.ics"]\nmaildir = "Mail"\n'
    )
    config = load_config(cfg)
    account = config.accounts[0]
    assert isinstance(account, LocalAccount)
    assert account.calendars == [str(tmp_path / "cal"), "https://example.org/basic.ics"]
    assert account.maildir == str(tmp_path / "Mail")
    assert config.ledger_url() == f"sqlite:///{tmp_path / 'state' / 'ledger.sqlite3'}"


def test_duplicate_account_names_are_refused() -> None:
    with pytest.raises(ConfigError) as e:
        parse_config('[[accounts]]\nkind = "local"\n[[accounts]]\nkind = "local"\n')
    assert "unique" in e.value.problems[0]

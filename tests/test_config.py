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
    assert '[[accounts]] #1 must be "local", "google" or "microsoft", not "carrier-pigeon"' in text
    assert len(e.value.problems) == 4


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


def _problems(text: str, tmp_path: Path | None = None) -> list[str]:
    with pytest.raises(ConfigError) as e:
        if tmp_path is None:
            parse_config(text)
        else:
            cfg = tmp_path / "followup.toml"
            cfg.write_text(text)
            load_config(cfg)
    return e.value.problems


def test_a_misspelled_key_is_named_with_its_line_and_the_likely_key() -> None:
    text = '[user]\nname = "Ada"\n\n[[accounts]]\nkind = "local"\ncalender = ["x"]\n'
    assert _problems(text) == [
        "line 6: unknown key `calender` in [[accounts]] #1 (did you mean `calendars`?)"]


def test_a_misspelled_table_is_named_with_the_likely_one() -> None:
    assert _problems("[schedul]\nday_start = 08:00:00\n") == [
        "line 1: unknown table [schedul] (did you mean [schedule]?)"]


def test_a_misspelled_kind_is_named_with_the_likely_one() -> None:
    assert _problems('[[accounts]]\nkind = "gogle"\nname = "w"\n') == [
        'line 2: `kind` in [[accounts]] #1 must be "local", "google" or "microsoft", '
        'not "gogle" (did you mean `google`?)']


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("poll_seconds = 1e14", "`daemon.poll_seconds` must be at most 86400"),
        ("poll_seconds = 100000000000000", "`daemon.poll_seconds` must be at most 86400"),
        ("horizon_days = 100000000000000000000", "`daemon.horizon_days` must be at most 366"),
        ("lookback_days = 99999999999", "`daemon.lookback_days` must be at most 366"),
        ("lookback_days = -1", "`daemon.lookback_days` must be at least 0"),
        ("poll_seconds = inf", "`daemon.poll_seconds` must be"),
        ("poll_seconds = nan", "`daemon.poll_seconds` must be"),
        ("poll_seconds = 1.5", "`daemon.poll_seconds` must be a whole number"),
        ('poll_seconds = "often"', "`daemon.poll_seconds` must be a whole number"),
    ],
)
def test_numbers_out_of_range_are_config_errors(line: str, expected: str) -> None:
    problems = _problems(f"[daemon]\n{line}\n")
    assert len(problems) == 1
    assert problems[0].startswith(f"line 2: {expected}"), problems


def test_every_number_in_the_config_has_an_upper_bound() -> None:
    """No number a user can type is unbounded: a typo is an error, not an overflow later."""
    import typing

    from pydantic import BaseModel as Model

    import followup.config as config_module

    models = [m for m in vars(config_module).values()
              if isinstance(m, type) and issubclass(m, Model) and m.__module__ ==
              config_module.__name__]
    assert len(models) >= 8
    unbounded = []
    for model in models:
        for name, field in model.model_fields.items():
            kinds = set(typing.get_args(field.annotation)) or {field.annotation}
            if kinds & {int, float} and not any(
                    hasattr(m, "le") or hasattr(m, "lt") for m in field.metadata):
                unbounded.append(f"{model.__name__}.{name}")
    assert unbounded == []


def test_a_byte_that_is_not_utf8_is_a_config_error_with_its_line(tmp_path: Path) -> None:
    cfg = tmp_path / "followup.toml"
    cfg.write_bytes(b'[user]\nname = "Ada"\nsignature = "caf\xe9"\n')
    with pytest.raises(ConfigError) as e:
        load_config(cfg)
    assert e.value.problems == ["line 3: byte 0xe9 is not UTF-8; save the file as UTF-8"]


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("day_start = 17:00:00\nday_end = 09:00:00",
         "line 3: `schedule.day_end` (09:00:00) must be later than `schedule.day_start` "
         "(17:00:00)"),
        ("day_start = 09:00:00\nday_end = 09:00:00", "must be later than"),
        ("working_days = []", "line 2: `schedule.working_days` must not be empty"),
        ('working_days = ["mon", "mon"]', "`schedule.working_days`: names mon more than once"),
        ('working_days = ["mon", "tus"]',
         "`schedule.working_days[2]` must be one of mon, tue, wed, thu, fri, sat, sun, "
         'not "tus" (did you mean `tue`?)'),
        ("cadence_min_days = 30\ncadence_max_days = 7",
         "`schedule.cadence_min_days` (30) must not be more than `schedule.cadence_max_days` (7)"),
        ("deadline_hours = 12",
         "line 2: `schedule.deadline_hours` (12) must not be less than "
         "`schedule.target_hours` (24)"),
    ],
)
def test_settings_that_make_no_sense_are_errors(schedule: str, expected: str) -> None:
    problems = _problems(f"[schedule]\n{schedule}\n")
    assert len(problems) == 1
    assert expected in problems[0]


def test_cross_checks_are_reported_beside_other_errors() -> None:
    problems = _problems("[schedule]\nblock_minutes = 1\nday_start = 18:00:00\n"
                         "day_end = 08:00:00\n")
    assert len(problems) == 2
    assert "`schedule.block_minutes` must be at least 5" in problems[0]
    assert problems[1].startswith("line 4: `schedule.day_end` (08:00:00) must be later")


def test_a_templates_dir_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    problems = _problems('templates_dir = "tempaltes"\n', tmp_path)
    assert problems == [
        f"line 1: `templates_dir`: {tmp_path / 'tempaltes'} is not a folder (templates_dir "
        "names a folder of Jinja2 templates; remove the line to use the shipped ones)"]
    (tmp_path / "tempaltes").mkdir()
    assert load_config(tmp_path / "followup.toml").templates_dir == str(tmp_path / "tempaltes")


def test_addresses_and_domains_must_be_what_they_say() -> None:
    problems = _problems(
        '[user]\naddresses = ["ada@example.org", "Ada Lovelace", "ada@example.org?subject=x"]\n'
        'domains = ["example.org", "@acme.example", "acme"]\n'
        '[triage]\nskip_addresses = ["boss"]\nskip_domains = ["not a domain"]\n')
    assert len(problems) == 4
    assert problems[0].startswith("line 2: `user.addresses`: 'Ada Lovelace' is not an email")
    assert "'ada@example.org?subject=x' is not an email address" in problems[0]
    assert problems[1] == "line 3: `user.domains`: 'acme' is not a domain such as example.org"
    assert problems[2].startswith("line 5: `triage.skip_addresses`: 'boss' is not an email")
    assert problems[3].startswith("line 6: `triage.skip_domains`: 'not a domain' is not a")


def test_good_addresses_and_domains_are_kept_lower_case() -> None:
    config = parse_config('[user]\naddresses = [" Ada@Example.ORG ", "jörg@bücher.example"]\n'
                          'domains = ["@Example.org"]\n')
    assert config.user.addresses == ["ada@example.org", "jörg@bücher.example"]
    assert config.user.domains == ["example.org"]


@pytest.mark.parametrize("name", ["../evil", "a/b", "..", ".", "", "work mail", "wörk", "a\\nb"])
def test_account_names_that_are_not_plain_file_names_are_refused(name: str) -> None:
    toml_name = name.replace("\\", "\\\\").replace("\n", "\\n")
    problems = _problems(f'[[accounts]]\nkind = "google"\nname = "{toml_name}"\n')
    assert len(problems) == 1
    assert problems[0].startswith("line 3: `name` in [[accounts]] #1: ")
    assert "cannot be an account name" in problems[0]


@pytest.mark.parametrize("name", ["work", "Work.2", "a_b-c"])
def test_plain_account_names_are_accepted(name: str) -> None:
    for kind in ("local", "google", "microsoft"):
        assert parse_config(f'[[accounts]]\nkind = "{kind}"\nname = "{name}"\n').accounts


def test_every_problem_of_a_messy_file_is_listed_in_file_order(tmp_path: Path) -> None:
    problems = _problems(
        'bogus = 1\n[user]\ntimezone = "Europe/Berlinn"\n[daemon]\npoll_seconds = 1e14\n'
        '[[accounts]]\nkind = "local"\nname = "a/b"\ncalender = []\n', tmp_path)
    assert [p.split(":")[0] for p in problems] == [
        "line 1", "line 3", "line 5", "line 8", "line 9"]


def test_terminal_escapes_in_a_config_value_are_shown_inert() -> None:
    problems = _problems('[schedule]\nweekly_day = "\\u001b[2Jfri"\n')
    assert "\x1b" not in problems[0]
    assert "\\x1b[2Jfri" in problems[0]

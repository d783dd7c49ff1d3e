"""`followup admin`: tenants and accounts validated like the TOML, credentials sealed at
rest, TOML configs moved in with their tokens, key rotation, status."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from followup.company.admin import main_admin
from followup.company.crypto import KEY_ENV
from followup.company.store import AccountStore

pytestmark = pytest.mark.postgres

TOKEN = {"refresh_token": "1//secret-refresh", "client_id": "cid", "client_secret": "cs"}


def admin(url: str, *args: str) -> tuple[int, str]:
    """What `followup admin --database URL ARGS` does (cli.main hands argv over as is)."""
    out = io.StringIO()
    code = main_admin(["--database", url, *args], out, sys.stderr)
    return code, out.getvalue()


def test_accounts_are_added_listed_disabled_and_removed(
    tmp_path: Path, company_url: str, store: AccountStore
) -> None:
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    (tokens / "ann.json").write_text(json.dumps(TOKEN))
    assert admin(company_url, "tenant", "add", "acme")[0] == 0
    code, said = admin(company_url, "account", "add", "acme", "--kind", "google", "--name",
                       "ann", "--set", 'calendars=["primary", "team"]', "--user",
                       "name=Ann Smith", "--user", 'addresses=["ann@acme.example"]',
                       "--tokens-dir", str(tokens))
    assert code == 0, said
    code, listed = admin(company_url, "account", "list")
    assert "acme\tann\tgoogle\tok\tlast sync never" in listed
    assert store.credential("ann") == {".json": json.dumps(TOKEN).encode()}
    with store.engine.begin() as conn:
        raw = conn.execute(text("SELECT credential, wrapped_key FROM company_accounts")).one()
    assert b"secret-refresh" not in bytes(raw[0]) + bytes(raw[1])
    config, account = store.config_for("ann", ledger_url=company_url, state_dir=tmp_path)
    assert config.user.name == "Ann Smith" and account.calendars == ["primary", "team"]
    assert admin(company_url, "account", "disable", "ann")[0] == 0
    assert "disabled" in admin(company_url, "account", "list")[1]
    assert admin(company_url, "account", "remove", "ann")[0] == 0
    assert store.accounts() == []


def test_bad_settings_are_refused_with_the_toml_models_words(
    company_url: str, store: AccountStore, capsys: pytest.CaptureFixture[str]
) -> None:
    admin(company_url, "tenant", "add", "acme")
    code, _ = admin(company_url, "account", "add", "acme", "--kind", "google", "--name",
                    "../etc", "--set", "request_timeout=-1")
    err = capsys.readouterr().err
    assert code == 2
    assert "cannot be an account name" in err and "request_timeout" in err
    code, _ = admin(company_url, "account", "add", "nobody", "--kind", "local", "--name", "x")
    assert code == 1 and "no tenant 'nobody'" in capsys.readouterr().err
    assert store.accounts() == []


def test_import_toml_moves_accounts_and_their_tokens_in(
    tmp_path: Path, company_url: str, store: AccountStore
) -> None:
    state = tmp_path / "state"
    (state / "tokens").mkdir(parents=True)
    (state / "tokens" / "work.json").write_text(json.dumps(TOKEN))
    config = tmp_path / "followup.toml"
    config.write_text(
        'state_dir = "state"\n[user]\nname = "Bo"\naddresses = ["bo@firm.example"]\n'
        'timezone = "Europe/Berlin"\n[schedule]\ngrace_minutes = 5\n'
        '[[accounts]]\nkind = "google"\nname = "work"\n'
        '[[accounts]]\nkind = "local"\nname = "home"\ncalendars = ["cal"]\n')
    code, said = admin(company_url, "import-toml", "firm", str(config))
    assert code == 0, said
    assert "work: imported with 1 token file(s)" in said and "home: imported without" in said
    merged, home = store.config_for("home", ledger_url=company_url, state_dir=tmp_path)
    assert merged.user.timezone == "Europe/Berlin" and merged.schedule.grace_minutes == 5
    assert home.calendars == [str(tmp_path / "cal")]  # resolved against the file
    assert store.credential("work") == {".json": json.dumps(TOKEN).encode()}
    code, said = admin(company_url, "import-toml", "firm", str(config))
    assert code == 0 and "exists already" in said


def test_rotate_key_rewraps_every_credential(
    tmp_path: Path, company_url: str, store: AccountStore, master_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    (tokens / "ann.json").write_text(json.dumps(TOKEN))
    admin(company_url, "tenant", "add", "acme")
    admin(company_url, "account", "add", "acme", "--kind", "google", "--name", "ann",
          "--tokens-dir", str(tokens))
    new = Fernet.generate_key().decode()
    monkeypatch.setenv(KEY_ENV, f"{new},{master_key}")
    code, said = admin(company_url, "rotate-key")
    assert code == 0 and said.startswith("1 credentials re-wrapped")
    monkeypatch.setenv(KEY_ENV, new)  # the old key is gone
    assert AccountStore(store.engine).credential("ann") == {".json": json.dumps(TOKEN).encode()}


def test_status_shows_the_queue_and_the_accounts(company_url: str) -> None:
    admin(company_url, "tenant", "add", "acme")
    admin(company_url, "account", "add", "acme", "--kind", "local", "--name", "x")
    code, said = admin(company_url, "status", "--json")
    view = json.loads(said)
    assert code == 0
    assert view["accounts"] == 1 and view["queue_ready"] == 1  # `account add` queued it
    assert view["oldest_ready_seconds"] >= 0
    code, said = admin(company_url, "status", "--prometheus")
    assert "followup_company_queue_ready 1" in said

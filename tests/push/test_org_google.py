"""Google Workspace organisation-wide: a service account key with domain-wide delegation
against the fake's JWT bearer grant; the tenant check names the missing scopes; users
come from the Directory API; each account impersonates its user."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from followup.company.store import AccountStore
from followup.config import Config
from followup.providers.google.scopes import scopes_for
from followup.push.admin import main_push_admin
from followup.push.channels import ChannelStore
from followup.push.org_google import DIRECTORY_SCOPES

from .conftest import Served
from .fake_google_push import FakeGooglePush

TOPIC = "projects/acme/topics/gmail"


@pytest.fixture
def google() -> Iterator[FakeGooglePush]:
    fake = FakeGooglePush(user="alice@example.com").start()
    fake.add_user("alice@example.com", groups=("sales@example.com",))
    fake.add_user("bob@example.com", groups=("sales@example.com",))
    fake.add_user("gone@example.com", suspended=True, groups=("sales@example.com",))
    fake.add_user("admin@example.com")
    yield fake
    fake.stop()


def _admin(url: str, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main_push_admin(["--database", url, *args], out, err), out.getvalue(), err.getvalue()


def _add(url: str, google: FakeGooglePush, key_file: Path, user: str = "alice@example.com"
         ) -> tuple[int, str, str]:
    urls = google.account_urls()
    sets = [f"--set={k}={v}" for k, v in urls.items() if k != "token_uri"]
    return _admin(url, "tenant", "add", "google", "--tenant", "acme", "--service-account",
                  str(key_file), "--check-user", user, "--admin", "admin@example.com",
                  "--pubsub-topic", TOPIC, f"--set=directory_url={google.base}/", *sets)


def _scopes(google: FakeGooglePush) -> list[str]:
    from followup.config import GoogleAccount

    return scopes_for(GoogleAccount(name="x", **google.account_urls()))


def test_tenant_check_names_missing_scopes_and_users(db: tuple[str, Engine],
                                                     google: FakeGooglePush,
                                                     tmp_path: Path) -> None:
    url = db[0]
    scopes = _scopes(google)
    compose = "https://www.googleapis.com/auth/gmail.compose"
    key = google.service_account_key([s for s in scopes if s != compose])
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps(key))
    code, _, err = _add(url, google, key_file)
    assert code == 1
    assert f"domain-wide delegation for client ID {key['client_id']} lacks {compose}" in err
    assert "Manage Domain Wide Delegation" in err

    google.dwd[key["client_id"]] |= {compose}
    code, _, err = _add(url, google, key_file, user="nobody@example.com")
    assert code == 1 and "nobody@example.com: no such active user" in err

    code, _, err = _add(url, google, key_file)
    assert code == 1 and "listing users as admin@example.com is refused" in err
    assert DIRECTORY_SCOPES[0] in err

    google.dwd[key["client_id"]] |= set(DIRECTORY_SCOPES)
    code, out, err = _add(url, google, key_file)
    assert code == 0, err
    assert "google organisation access works" in out

    code, out, _ = _admin(url, "sync-users", "--tenant", "acme", "--group", "sales@example.com")
    assert code == 0 and "2 account(s) added" in out  # the suspended member is left out


def test_delegated_accounts_sync_and_watch_as_their_user(
        served: Served, db: tuple[str, Engine], accounts: AccountStore,
        channels: ChannelStore, google: FakeGooglePush, tmp_path: Path) -> None:
    url = db[0]
    key = google.service_account_key([*_scopes(google), *DIRECTORY_SCOPES])
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps(key))
    assert _add(url, google, key_file)[0] == 0
    assert _admin(url, "sync-users", "--tenant", "acme", "--group", "sales@example.com")[0] == 0
    name = "alice-example.com"

    # The Google provider reads the sealed credential as a delegated service account.
    from followup.providers.google.credentials import StoredCredentials
    from followup.providers.google.services import service
    from followup.providers.google.transport import SessionHttp

    config, cfg = accounts.config_for(name, ledger_url=url, state_dir=tmp_path / "state")
    tokens = tmp_path / "state" / "tokens"
    tokens.mkdir(parents=True)
    for suffix, content in accounts.credential(name).items():
        (tokens / f"{name}{suffix}").write_bytes(content)
    assert isinstance(config, Config)
    stored = StoredCredentials.load(cfg, config)  # type: ignore[arg-type]
    http = SessionHttp.for_credentials(stored.credentials, timeout=10,
                                       on_token_change=stored.persist)
    listed = service("calendar", "v3", cfg.calendar_url).events().list(  # type: ignore[union-attr]
        calendarId="primary").execute(http=http)
    assert "items" in listed
    assert json.loads((tokens / f"{name}.json").read_text())["subject"] == "alice@example.com"
    assert ("oauth2.token", 200) in google.log

    # The renewal watches Gmail into the tenant's own topic, as that user.
    report = served.ingest.renewer.run_once()
    assert report is not None and report.failed == 0
    gmail = [c for c in channels.for_account(name) if c.kind == "gmail"]
    assert gmail and gmail[0].resource == "alice@example.com"
    assert google.watches["alice@example.com"]["topic"] == TOPIC


def test_a_rotated_key_reaches_enabled_accounts_only(db: tuple[str, Engine],
                                                     accounts: AccountStore,
                                                     google: FakeGooglePush,
                                                     tmp_path: Path) -> None:
    url = db[0]
    scopes = [*_scopes(google), *DIRECTORY_SCOPES]
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps(google.service_account_key(scopes)))
    assert _add(url, google, key_file)[0] == 0
    assert _admin(url, "sync-users", "--tenant", "acme", "--group", "sales@example.com")[0] == 0
    accounts.set_enabled("bob-example.com", False)
    new = google.service_account_key(scopes, name="followup2")
    key_file.write_text(json.dumps(new))
    assert _add(url, google, key_file)[0] == 0
    code, out, _ = _admin(url, "sync-users", "--tenant", "acme", "--group", "sales@example.com")
    assert code == 0 and "0 account(s) added, 2 already known" in out

    def key_of(name: str) -> str:
        return str(json.loads(accounts.credential(name)[".json"])["client_email"])

    assert key_of("alice-example.com") == new["client_email"]
    assert key_of("bob-example.com") != new["client_email"]  # opted out: untouched

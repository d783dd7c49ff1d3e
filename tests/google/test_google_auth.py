"""Tokens: stored 0600, refreshed and persisted, refused grants, connect and import, no leaks."""

from __future__ import annotations

import io
import json
import logging
import stat
import sys
import threading
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from fake_google import FakeGoogle
from google_env import T0, account_config, connect
from structlog.testing import capture_logs

from followup import keys
from followup.config import Config, GoogleAccount
from followup.errors import AuthError
from followup.model import ContactPayload, DraftPayload, Interval
from followup.protocols import Account
from followup.providers import token_path
from followup.providers.google import (
    connect_google,
    google_credential_info,
    open_google_account,
)
from followup.providers.google.scopes import scopes_for
from followup.providers.google.tokens import FileTokenStore

WINDOW = Interval(T0 - timedelta(days=3), T0 + timedelta(days=14))


def stored(config: Config, cfg: GoogleAccount) -> dict[str, Any]:
    return dict(json.loads(token_path(config, cfg.name).read_text()))


def test_refreshed_tokens_are_persisted_privately(fake: FakeGoogle, cfg: GoogleAccount,
                                                  config: Config, account: Account) -> None:
    account.sources[0].changes(None, WINDOW)
    path = token_path(config, cfg.name)
    info = stored(config, cfg)
    assert info["token"] in fake.access and info["expiry"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # An access token that Google no longer takes (401) is refreshed once, silently.
    fake.expire_access_tokens()
    account.sources[0].changes(None, WINDOW)
    assert stored(config, cfg)["token"] != info["token"]
    assert fake.counts()["oauth2.token"] == 2


def test_a_revoked_grant_needs_reconnect_and_is_not_retried(
        fake: FakeGoogle, cfg: GoogleAccount, config: Config, account: Account) -> None:
    fake.revoke_all()
    with capture_logs() as logs, pytest.raises(AuthError, match="invalid_grant"):
        account.sources[0].changes(None, WINDOW)
    assert any(e["event"] == "google.needs_reconnect" for e in logs)
    assert google_credential_info(cfg, config, now=T0).state == "needs_reconnect"
    # The next cycle gives up at once: no request at all, so no loop against Google.
    fake.reset_log()
    with pytest.raises(AuthError, match="connect google --account work"):
        open_google_account(cfg, config)
    assert fake.log == []


def test_not_connected(cfg: GoogleAccount, config: Config) -> None:
    with pytest.raises(AuthError, match="not connected"):
        open_google_account(cfg, config)
    info = google_credential_info(cfg, config, now=T0)
    assert info.state == "missing" and info.path == str(token_path(config, cfg.name))


def grant(fake: FakeGoogle, cfg: GoogleAccount, obtained: datetime,
          **extra: object) -> dict[str, Any]:
    from followup.providers.google.credentials import stamp_new_grant

    info = fake.authorized_user_info(scopes_for(cfg))
    return {**stamp_new_grant(info, cfg, obtained, None), **extra}


@pytest.mark.parametrize(("age_days", "testing", "state"), [
    (1, True, "ok"), (6, True, "expiring"), (8, True, "needs_reconnect"), (30, False, "ok")])
def test_testing_apps_warn_before_the_seven_days(fake: FakeGoogle, config: Config,
                                                 age_days: int, testing: bool,
                                                 state: str) -> None:
    cfg = account_config(fake, testing_app=testing)
    FileTokenStore(token_path(config, cfg.name)).save(
        grant(fake, cfg, T0 - timedelta(days=age_days)))
    info = google_credential_info(cfg, config, now=T0)
    assert info.state == state
    if testing:
        assert info.refresh_expires_at == T0 - timedelta(days=age_days) + timedelta(days=7)


def test_missing_permissions_are_reported(fake: FakeGoogle, cfg: GoogleAccount,
                                          config: Config) -> None:
    partial = [s for s in scopes_for(cfg) if not s.endswith("gmail.readonly")]
    FileTokenStore(token_path(config, cfg.name)).save(
        {**grant(fake, cfg, T0), "scopes": partial})
    info = google_credential_info(cfg, config, now=T0)
    assert info.state == "needs_reconnect" and "gmail.readonly" in info.message


@pytest.mark.parametrize("calendar", ["primary", "Follow-ups"])
def test_the_requested_scopes_are_enough_for_every_call(
        fake: FakeGoogle, config: Config, calendar: str) -> None:
    """The fake checks each call against the discovery documents' scope lists."""
    cfg = account_config(fake, followup_calendar=calendar)
    FileTokenStore(token_path(config, cfg.name)).save(fake.authorized_user_info(
        scopes_for(cfg)))
    account = open_google_account(cfg, config, clock=lambda: T0, sleep=lambda s: None)
    for source in account.sources:
        source.changes(None, WINDOW)
    account.availability.busy(WINDOW)
    account.mail.last_interactions(["a@x.org"], T0)
    k = keys.touch_key("w", "m", T0, "a@x.org", 0, "contact")
    account.contacts.ensure(k, ContactPayload("a@x.org", None, None, None, None, "Met"),
                            recovering=True)
    d = keys.touch_key("w", "m", T0, "a@x.org", 0, "draft")
    account.drafts.ensure(d, DraftPayload((("A", "a@x.org"),), "Hi", "Hello",
                                          keys.message_id(d)), recovering=True)
    from test_google_resilience import BLOCK, KEY

    result = account.blocks.ensure(KEY, BLOCK, recovering=True)
    account.blocks.remove(KEY, result.remote_id, result.fingerprint)
    assert not [m for m, s in fake.log if s == 403]


def test_the_keyring_holds_the_grant_when_asked(fake: FakeGoogle, config: Config,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    vault: dict[tuple[str, str], str] = {}
    stub = types.ModuleType("keyring")
    stub.get_password = lambda service, user: vault.get((service, user))  # type: ignore[attr-defined]
    stub.set_password = lambda service, user, pw: vault.__setitem__((service, user), pw)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "keyring", stub)
    cfg = account_config(fake, use_keyring=True)
    vault[("followup", "google:work")] = json.dumps(fake.authorized_user_info())
    account = open_google_account(cfg, config, clock=lambda: T0, sleep=lambda s: None)
    account.sources[0].changes(None, WINDOW)
    assert json.loads(vault[("followup", "google:work")])["token"] in fake.access
    assert not token_path(config, cfg.name).exists()
    assert google_credential_info(cfg, config, now=T0).path == "keyring:followup/google:work"


def test_a_keyring_without_the_package_says_what_to_install(
        fake: FakeGoogle, config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # import keyring -> ImportError
    with pytest.raises(AuthError, match=r"followup\[keyring\]"):
        open_google_account(account_config(fake, use_keyring=True), config)


def test_import_token_adopts_a_grant_made_elsewhere(fake: FakeGoogle, cfg: GoogleAccount,
                                                    config: Config, tmp_path: Path) -> None:
    source = tmp_path / "token.json"
    info = fake.authorized_user_info(scopes_for(cfg))
    info["token_uri"] = "https://oauth2.googleapis.com/token"  # as written on a laptop
    source.write_text(json.dumps(info))
    out = io.StringIO()
    code = connect_google(cfg, config, client_secrets=None, no_browser=True,
                          import_token=source, out=out, now=T0)
    assert code == 0, out.getvalue()
    saved = stored(config, cfg)
    assert saved["refresh_token"] == info["refresh_token"]
    assert saved["followup_refresh_expires_at"].startswith("2025-03-17")
    assert fake.counts()["oauth2.token"] == 1  # proven against the configured endpoint
    assert info["refresh_token"] not in out.getvalue()


def test_import_token_refuses_a_revoked_grant(fake: FakeGoogle, cfg: GoogleAccount,
                                              config: Config, tmp_path: Path) -> None:
    source = tmp_path / "token.json"
    source.write_text(json.dumps(fake.authorized_user_info()))
    fake.revoke_all()
    out = io.StringIO()
    assert connect_google(cfg, config, client_secrets=None, no_browser=True,
                          import_token=source, out=out, now=T0) == 1
    assert "invalid_grant" in out.getvalue()
    assert not token_path(config, cfg.name).exists()
    (tmp_path / "bad.json").write_text('{"token": "x"}')
    assert connect_google(cfg, config, client_secrets=None, no_browser=True,
                          import_token=tmp_path / "bad.json", out=out, now=T0) == 2


class _Screen(io.StringIO):
    """What the user sees; signals once the consent URL has been printed."""

    def __init__(self) -> None:
        super().__init__()
        self.url_shown = threading.Event()

    def write(self, s: str) -> int:
        n = super().write(s)
        if "http" in self.getvalue():
            self.url_shown.set()
        return n


def run_consent(fake: FakeGoogle, cfg: GoogleAccount, config: Config, tmp_path: Path
                ) -> tuple[int, str]:
    secrets_file = tmp_path / "client_secret.json"
    secrets_file.write_text(json.dumps(fake.client_secrets()))
    screen = _Screen()
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(connect_google(
        cfg, config, client_secrets=secrets_file, no_browser=True, import_token=None,
        out=screen, now=T0)))
    worker.start()
    assert screen.url_shown.wait(10)
    url = next(w for w in screen.getvalue().split() if w.startswith("http"))
    # The user's browser: Google's consent page redirects to the loopback server.
    requests.get(url, timeout=10)
    worker.join(10)
    return result[0], screen.getvalue()


def test_connect_runs_the_loopback_flow_and_prints_the_url(
        fake: FakeGoogle, cfg: GoogleAccount, config: Config, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake's token URL is http
    code, screen = run_consent(fake, cfg, config, tmp_path)
    assert code == 0, screen
    assert "access_type=offline" in screen and "prompt=consent" in screen
    assert "code_challenge=" in screen  # PKCE
    saved = stored(config, cfg)
    assert saved["refresh_token"] in fake.grants
    assert sorted(saved["scopes"]) == sorted(scopes_for(cfg))
    assert saved["followup_refresh_obtained_at"].startswith("2025-03-10")
    assert google_credential_info(cfg, config, now=T0).state == "ok"


def test_connect_warns_about_unticked_permissions(
        fake: FakeGoogle, cfg: GoogleAccount, config: Config, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    fake.deny_scopes = {"https://www.googleapis.com/auth/gmail.readonly"}
    code, screen = run_consent(fake, cfg, config, tmp_path)
    assert code == 1 and "gmail.readonly" in screen


def test_connect_without_a_client_says_where_to_get_one(cfg: GoogleAccount,
                                                        config: Config) -> None:
    out = io.StringIO()
    assert connect_google(cfg, config, client_secrets=None, no_browser=True,
                          import_token=None, out=out) == 2
    assert "--client-secrets" in out.getvalue()


def test_no_token_or_message_body_reaches_the_logs(
        fake: FakeGoogle, account: Account, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body = "Secret plans for the merger"
    fake.add_mail("jane@acme.com", fake.user, at=T0 + timedelta(hours=1), subject=body)
    with capture_logs() as logs:
        for source in account.sources:
            source.changes(None, WINDOW)
        account.mail.last_interactions(["jane@acme.com"], T0)
        fake.fail_next("gmail.users.drafts.create", 503)
        d = keys.touch_key("w", "m", T0, "jane@acme.com", 0, "draft")
        account.drafts.ensure(d, DraftPayload((("Jane", "jane@acme.com"),), "Re", body,
                                              keys.message_id(d)), recovering=False)
        fake.expire_access_tokens()
        account.availability.busy(WINDOW)
        fake.revoke_all()
        fake.expire_access_tokens()
        with pytest.raises(AuthError):
            account.availability.busy(WINDOW)
    secrets_seen = [*fake.grants, *fake.access, fake.client_secret, body]
    text = json.dumps(logs, default=str) + caplog.text
    assert logs  # something was logged
    for secret in secrets_seen:
        assert secret not in text


def test_obtained_time_is_kept_through_refreshes(fake: FakeGoogle, cfg: GoogleAccount,
                                                 config: Config) -> None:
    obtained = T0 - timedelta(days=2)
    FileTokenStore(token_path(config, cfg.name)).save(grant(fake, cfg, obtained))
    account = open_google_account(cfg, config, clock=lambda: T0, sleep=lambda s: None)
    account.sources[0].changes(None, WINDOW)
    saved = stored(config, cfg)
    assert saved["token"] in fake.access
    assert datetime.fromisoformat(saved["followup_refresh_obtained_at"]) == obtained.astimezone(
        UTC)


def test_a_corrupt_token_file_is_a_clear_error(cfg: GoogleAccount, config: Config) -> None:
    path = token_path(config, cfg.name)
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(AuthError, match="not valid JSON"):
        open_google_account(cfg, config)
    assert google_credential_info(cfg, config, now=T0).state == "needs_reconnect"


def test_connected_helper_matches_connect(fake: FakeGoogle, cfg: GoogleAccount,
                                          config: Config) -> None:
    connect(fake, cfg, config)
    assert google_credential_info(cfg, config, now=T0).state == "ok"


def test_a_grant_without_a_permission_asks_for_a_reconnect(fake: FakeGoogle,
                                                           cfg: GoogleAccount,
                                                           config: Config) -> None:
    partial = [s for s in scopes_for(cfg) if not s.endswith("gmail.readonly")]
    FileTokenStore(token_path(config, cfg.name)).save(fake.authorized_user_info(partial))
    account = open_google_account(cfg, config, clock=lambda: T0, sleep=lambda s: None)
    with pytest.raises(AuthError, match="insufficientPermissions"):
        account.mail.last_interactions(["a@x.org"], T0)

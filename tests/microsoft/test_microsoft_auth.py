"""Sign-in with the real msal against the local HTTPS authority."""

from __future__ import annotations

import io
import os
import pickle
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from followup.errors import AuthError
from followup.model import DraftPayload
from followup.providers import token_path
from followup.providers.microsoft import (
    connect_microsoft,
    microsoft_credential_info,
    open_microsoft_account,
)

from .conftest import MsWorld


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


SINCE = datetime(2025, 3, 1, tzinfo=UTC)


def _touch_graph(ms: MsWorld) -> None:
    """One Graph call through a freshly opened account, as a new process would make."""
    ms.open().mail.last_interactions(["x@example.org"], since=SINCE)


def test_device_code_connect_stores_a_private_cache(ms: MsWorld) -> None:
    out = ms.connect()
    assert "FAKE-CODE" in out  # the device code instructions reach the user
    assert "me@contoso.example" in out
    cache = token_path(ms.config, "work", ".msal.json")
    assert _mode(cache) == 0o600
    assert _mode(cache.parent) == 0o700
    assert ms.authority.grants == ["urn:ietf:params:oauth:grant-type:device_code"]
    info = microsoft_credential_info(ms.cfg, ms.config)
    assert info.state == "ok"
    assert "Calendars.ReadWrite" in " ".join(info.scopes)


def test_the_configured_ca_bundle_beats_requests_ca_bundle(ms: MsWorld) -> None:
    # The fixture points REQUESTS_CA_BUNDLE at a file that does not exist; requests would
    # use it instead of msal's verify= if the session did not pin the configured bundle.
    assert not Path(os.environ["REQUESTS_CA_BUNDLE"]).exists()
    ms.connect()
    _touch_graph(ms)


def test_not_connected_is_an_auth_error_with_the_command_to_run(ms: MsWorld) -> None:
    assert microsoft_credential_info(ms.cfg, ms.config).state == "missing"
    with pytest.raises(AuthError, match="followup connect microsoft --account work"):
        open_microsoft_account(ms.cfg, ms.config)


def test_no_client_id_explains_how_to_register(ms: MsWorld) -> None:
    cfg = ms.cfg.model_copy(update={"client_id": None})
    out = io.StringIO()
    assert connect_microsoft(cfg, ms.config, tenant=None, client_id=None, browser=False,
                             out=out) == 2
    assert "--client-id" in out.getvalue()


def test_client_id_given_at_connect_is_remembered(ms: MsWorld) -> None:
    cfg = ms.cfg.model_copy(update={"client_id": None})
    assert connect_microsoft(cfg, ms.config, tenant="consumers", client_id="abc-123",
                             browser=False, out=io.StringIO()) == 0
    account = open_microsoft_account(cfg, ms.config, sleep=ms.sleeps.append)
    assert account.mail.last_interactions(["x@example.org"], since=SINCE) == {}


def test_expired_access_token_is_refreshed_silently_from_the_persisted_cache(
    ms: MsWorld,
) -> None:
    ms.authority.expires_in = 60  # msal treats tokens with < 5 min left as expired
    ms.connect()
    cache = token_path(ms.config, "work", ".msal.json")
    before = cache.read_text()
    _touch_graph(ms)  # a new process: the cache is read from disk
    assert ms.authority.grants[-1] == "refresh_token"
    assert cache.read_text() != before  # the new tokens were saved
    assert _mode(cache) == 0o600


def test_revoked_grant_is_needs_reconnect_not_a_crash(ms: MsWorld) -> None:
    ms.authority.expires_in = 60
    ms.connect()
    ms.authority.revoke_all()
    account = ms.open()
    with pytest.raises(AuthError, match="needs reconnect"):
        account.mail.last_interactions(["x@example.org"], since=SINCE)
    info = microsoft_credential_info(ms.cfg, ms.config)
    assert info.state == "needs_reconnect"
    assert "followup connect microsoft" in info.message
    # Reconnecting clears it.
    ms.authority.expires_in = 3600
    ms.connect()
    assert microsoft_credential_info(ms.cfg, ms.config).state == "ok"
    _touch_graph(ms)


def test_interaction_required_is_needs_reconnect(ms: MsWorld) -> None:
    ms.authority.expires_in = 60
    ms.connect()
    ms.authority.interaction_required = True
    with pytest.raises(AuthError, match="interaction_required"):
        _touch_graph(ms)


def test_graph_401_refreshes_once_then_succeeds(ms: MsWorld) -> None:
    ms.connect()
    ms.graph.tokens.clear()  # Graph no longer accepts the cached access token
    _touch_graph(ms)
    assert ms.authority.grants[-1] == "refresh_token"


def test_tokens_and_bodies_never_reach_the_logs(ms: MsWorld) -> None:
    ms.authority.expires_in = 60
    with capture_logs() as logs:
        ms.connect()
        account = ms.open()
        ms.graph.fail("POST", "/me/messages", "429")
        account.drafts.ensure("k" * 32, DraftPayload(
            to=((None, "jane@example.org"),), subject="Hello",
            body="SECRET-BODY-TEXT about the pilot", message_id="<k@followup.invalid>"),
            recovering=False)
        ms.graph.tokens.clear()
        account.mail.last_interactions(["x@example.org"], since=SINCE)
    text = repr(logs)
    assert logs  # something was logged (the retry, at least)
    for secret in [*ms.authority.access_tokens, *ms.authority.refresh_tokens,
                   "SECRET-BODY-TEXT"]:
        assert secret not in text


def _http_cache(ms: MsWorld) -> Path:
    return token_path(ms.config, "work", ".msal-http.bin")


def test_a_new_process_with_a_valid_token_makes_no_identity_request(ms: MsWorld) -> None:
    ms.connect()  # reads the OpenID configuration once, keeps it in the http cache
    assert ms.authority.log.count(
        ("GET", "/organizations/v2.0/.well-known/openid-configuration")) == 1
    asked = len(ms.authority.log)
    for _ in range(2):  # two timer-driven `run --once` processes
        _touch_graph(ms)
    assert ms.authority.log[asked:] == []  # no OpenID configuration, no instance discovery


def test_a_refresh_in_a_new_process_asks_only_for_the_token(ms: MsWorld) -> None:
    ms.authority.expires_in = 60  # msal treats tokens with < 5 min left as expired
    ms.connect()
    asked = len(ms.authority.log)
    _touch_graph(ms)
    assert ms.authority.log[asked:] == [("POST", "/organizations/oauth2/v2.0/token")]


def test_the_http_cache_file_is_private(ms: MsWorld) -> None:
    ms.connect()
    _touch_graph(ms)
    assert _mode(_http_cache(ms)) == 0o600
    assert _mode(_http_cache(ms).parent) == 0o700
    text = _http_cache(ms).read_bytes()
    for secret in [*ms.authority.access_tokens, *ms.authority.refresh_tokens]:
        assert secret.encode() not in text


class _Planted:
    """A pickle that would delete a file when loaded by a plain pickle.load."""

    def __init__(self, victim: Path) -> None:
        self.victim = victim

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.remove, (str(self.victim),))


@pytest.mark.parametrize("content", ["garbage", "truncated", "not a dict", "planted"])
def test_an_unreadable_http_cache_is_ignored_and_replaced(
    ms: MsWorld, tmp_path: Path, content: str
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("still here")
    ms.connect()
    good = _http_cache(ms).read_bytes()
    _http_cache(ms).write_bytes({
        "garbage": b"\x00\xffnot a pickle at all",
        "truncated": good[: len(good) // 2],
        "not a dict": pickle.dumps(["a", "list"]),
        "planted": pickle.dumps({"k": _Planted(victim)}),
    }[content])
    asked = len(ms.authority.log)
    with capture_logs() as logs:
        _touch_graph(ms)  # works: msal reads the configuration again
    assert victim.read_text() == "still here"  # the planted pickle did not run
    assert any(e["event"] == "msal.http_cache_unreadable" for e in logs)
    assert ms.authority.log[asked:] == [
        ("GET", "/organizations/v2.0/.well-known/openid-configuration")]
    asked = len(ms.authority.log)
    _touch_graph(ms)  # the file was replaced with a good one
    assert ms.authority.log[asked:] == []

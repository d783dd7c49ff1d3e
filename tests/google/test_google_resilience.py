"""Retries: which failures are retried, how long we wait, and that nothing is written twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fake_google import FakeGoogle
from google_env import T0, account_config, connect
from structlog.testing import capture_logs

from followup import keys
from followup.config import Config
from followup.errors import ProviderError, TransientError
from followup.metrics import REGISTRY
from followup.model import BlockPayload, Interval, WriteOutcome
from followup.protocols import Account
from followup.providers.google import open_google_account
from followup.providers.google.transport import SessionHttp

WINDOW = Interval(T0 - timedelta(days=3), T0 + timedelta(days=14))
KEY = keys.touch_key("work", "m@x", T0, "jane@acme.com", 0, "block")
BLOCK = BlockPayload("Send follow-up", "Draft in Gmail", T0 + timedelta(hours=20),
                     T0 + timedelta(hours=20, minutes=15))


def list_events(account: Account) -> None:
    account.sources[0].changes(None, WINDOW)


def test_429_honours_retry_after(fake: FakeGoogle, account: Account,
                                 sleeps: list[float]) -> None:
    fake.fail_next("calendar.events.list", 429, "rateLimitExceeded", retry_after="7")
    list_events(account)
    assert sleeps == [7.0]


@pytest.mark.parametrize(("status", "reason"), [
    (429, "rateLimitExceeded"), (403, "userRateLimitExceeded"), (403, "rateLimitExceeded"),
    (500, "backendError"), (503, "backendError")])
def test_rate_limits_and_server_errors_are_retried_with_jittered_backoff(
        fake: FakeGoogle, account: Account, sleeps: list[float], status: int,
        reason: str) -> None:
    fake.fail_next("calendar.events.list", status, reason, times=3)
    list_events(account)
    assert len(sleeps) == 3
    # Full jitter: each wait is random in [0, 2^n) seconds, capped.
    assert all(0 <= s <= 2 ** (n + 1) for n, s in enumerate(sleeps))


def test_other_403s_are_not_retried(fake: FakeGoogle, account: Account,
                                    sleeps: list[float]) -> None:
    fake.fail_next("calendar.events.list", 403, "forbidden")
    with pytest.raises(ProviderError) as err:
        list_events(account)
    assert not isinstance(err.value, TransientError)
    assert sleeps == []


def test_retries_are_bounded_then_transient(fake: FakeGoogle, account: Account,
                                            sleeps: list[float]) -> None:
    fake.fail_next("calendar.events.list", 503, times=20)
    with pytest.raises(TransientError):
        list_events(account)
    assert fake.counts()["calendar.events.list"] == 6  # max_attempts
    assert len(sleeps) == 5


def test_a_long_retry_after_is_left_to_the_engine(fake: FakeGoogle, account: Account,
                                                  sleeps: list[float]) -> None:
    fake.fail_next("calendar.events.list", 429, retry_after="3600")
    with pytest.raises(TransientError) as err:
        list_events(account)
    assert err.value.retry_after == 3600
    assert sleeps == []


def test_a_timeout_is_retried(fake: FakeGoogle, config: Config) -> None:
    cfg = account_config(fake, request_timeout=0.2)
    connect(fake, cfg, config)
    account = open_google_account(cfg, config, clock=lambda: T0, sleep=lambda s: None)
    fake.delay_next("calendar.events.list", 0.6)
    with capture_logs() as logs:
        list_events(account)
    # (The fake logs the slow request only when its sleep ends: read our own log instead.)
    assert [e["reason"] for e in logs if e["event"] == "google.retry"] == ["connection"]


@pytest.mark.parametrize("method", ["calendar.events.insert", "gmail.users.drafts.create",
                                    "people.people.createContact"])
def test_a_create_is_never_resent_blind(fake: FakeGoogle, account: Account,
                                        method: str) -> None:
    """With httplib2 a dropped answer makes the library send the POST again by itself."""
    from test_google_people import key as contact_key
    from test_google_people import payload as contact_payload

    fake.drop_next(method, after_apply=True)
    if method == "calendar.events.insert":
        result = account.blocks.ensure(KEY, BLOCK, recovering=False)
        assert len(fake.live_events("primary")) == 1
    elif method == "gmail.users.drafts.create":
        from test_google_gmail import KEY as DKEY
        from test_google_gmail import draft

        result = account.drafts.ensure(DKEY, draft(DKEY), recovering=False)
        assert len(fake.drafts) == 1
    else:
        result = account.contacts.ensure(contact_key(), contact_payload(), recovering=False)
        assert len(fake.people) == 1
    assert result.outcome is WriteOutcome.CREATED
    assert fake.counts()[method] == 1  # looked up, found, not sent again


def test_a_create_refused_before_applying_is_made_after_the_look_up(
        fake: FakeGoogle, account: Account) -> None:
    fake.fail_next("calendar.events.insert", 503)
    result = account.blocks.ensure(KEY, BLOCK, recovering=False)
    assert result.outcome is WriteOutcome.CREATED
    methods = [m for m, _ in fake.log if m.startswith("calendar.events")]
    assert methods == ["calendar.events.insert", "calendar.events.get",
                       "calendar.events.insert"]


def test_the_transport_is_requests_not_httplib2(account: Account) -> None:
    client = account.blocks._c  # type: ignore[attr-defined]
    assert isinstance(client.caller.http, SessionHttp)
    # The service objects are shared by every account and hold no transport of their own:
    # a request run without its account's http is refused, never sent unauthenticated.
    request = client.api.calendar.events().list(calendarId="primary")
    with pytest.raises(RuntimeError, match="account's http"):
        request.execute()


def test_every_request_is_counted(fake: FakeGoogle, account: Account) -> None:
    def value(status: str) -> float:
        return REGISTRY.get_sample_value("followup_provider_requests_total", {
            "provider": "google", "endpoint": "calendar.events.list", "status": status}) or 0.0

    ok, throttled = value("200"), value("429")
    fake.fail_next("calendar.events.list", 429)
    list_events(account)
    assert (value("200") - ok, value("429") - throttled) == (1, 1)

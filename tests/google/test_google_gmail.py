"""Gmail: invitations as a meeting source, batched mail history, drafts found again by key."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from fake_google import FakeGoogle
from google_env import T0, account_config, connect

from followup import keys
from followup.config import Config, UserConfig
from followup.model import DraftPayload, Interval, MeetingStatus, WriteOutcome
from followup.protocols import Account
from followup.providers.google import open_google_account

CORPUS = Path(__file__).resolve().parents[1] / "data" / "calmailproc" / "maildir" / "cur"
WINDOW = Interval(T0 - timedelta(days=3), T0 + timedelta(days=14))


def eml(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


# The corpus mails' organiser. Here the user is that organiser, writing from another client:
# only an invitation the user organised or answered counts (RFC 6047); one they have not
# answered creates nothing (test_google_unanswered_invitations.py).
ORGANISER = "markus.brechtel@uk-koeln.de"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        user=UserConfig(name="Me Myself", addresses=["me@example.com", ORGANISER],
                        timezone="UTC"),
        state_dir=str(tmp_path / "state"),
    )


def invitations(account: Account):  # type: ignore[no-untyped-def]
    [source] = [s for s in account.sources if s.name == "mail:gmail"]
    return source


def test_an_invitation_mail_becomes_a_meeting_and_idle_checks_cost_one_call(
        fake: FakeGoogle, account: Account) -> None:
    fake.add_message(eml("test-01-1.eml"), at=datetime(2025, 3, 10, 9, 41, tzinfo=UTC))
    fake.add_message(eml("test-0.eml"), at=datetime(2025, 3, 10, 18, 22, tzinfo=UTC))
    source = invitations(account)
    first = source.changes(None, WINDOW)
    assert first.full
    [meeting] = first.upserts
    assert meeting.title == "Test Event 1" and meeting.source.startswith("mail:gmail/")
    # The plain mail is not fetched: the search only finds mails with a calendar part.
    assert fake.counts()["gmail.users.messages.get"] == 1

    fake.reset_log()
    idle = source.changes(first.cursor, WINDOW)
    assert (idle.upserts, idle.full) == ([], False)
    assert fake.counts() == {"gmail.users.getProfile": 1}

    fake.add_message(eml("test-01-2.eml"), at=datetime(2025, 3, 10, 12, 53, tzinfo=UTC) +
                     timedelta(hours=8))
    fake.reset_log()
    later = source.changes(idle.cursor, WINDOW)
    [cancelled] = later.upserts
    assert cancelled.uid == meeting.uid and cancelled.status is MeetingStatus.CANCELLED
    assert fake.counts()["gmail.users.messages.get"] == 1  # the first mail is not read again


def test_mail_that_is_no_invitation_costs_one_search(fake: FakeGoogle,
                                                      account: Account) -> None:
    source = invitations(account)
    first = source.changes(None, WINDOW)
    fake.add_mail("bob@example.org", fake.user, at=T0 + timedelta(hours=1))
    fake.reset_log()
    later = source.changes(first.cursor, WINDOW)
    assert later.upserts == []
    assert fake.counts() == {"gmail.users.getProfile": 1, "gmail.users.messages.list": 1}


def test_mail_history_batches_addresses_into_one_query_per_direction(
        fake: FakeGoogle, account: Account) -> None:
    people = [f"person{i}@example.org" for i in range(25)]
    assert account.mail.last_interactions(people, since=T0) == {}
    # 25 addresses: two batches (20 + 5), each asked once per direction; nothing to read.
    assert fake.counts() == {"gmail.users.messages.list": 4, "oauth2.token": 1}


def test_mail_history_reads_only_what_it_needs(fake: FakeGoogle, account: Account) -> None:
    fake.add_mail(fake.user, "a@example.org", at=T0 + timedelta(hours=1), sent=True)
    fake.add_mail(fake.user, "a@example.org", at=T0 + timedelta(hours=2), sent=True)
    fake.add_mail("b@example.org", fake.user, at=T0 + timedelta(hours=3))
    fake.add_mail("c@example.org", fake.user, at=T0 - timedelta(hours=3))  # before `since`
    found = account.mail.last_interactions(
        ["a@example.org", "B@example.org", "c@example.org"], since=T0)
    assert {k: (v.at, v.direction) for k, v in found.items()} == {
        "a@example.org": (T0 + timedelta(hours=2), "sent"),
        "b@example.org": (T0 + timedelta(hours=3), "received"),
    }
    # Hits are read newest first until every address is placed: both sent hits (b and c were
    # never placed), the one received hit; the mail to c before `since` is not a hit at all.
    assert fake.counts()["gmail.users.messages.get"] == 3


def draft(key: str) -> DraftPayload:
    return DraftPayload(to=(("Jane Doe", "jane@acme.com"),), subject="Roadmap: following up",
                        body="Hi Jane,\n\nThanks for today.\n", message_id=keys.message_id(key))


KEY = keys.touch_key("work", "m@x", T0, "jane@acme.com", 0, "draft")


def test_the_draft_is_the_rendered_message_with_our_message_id(fake: FakeGoogle,
                                                                account: Account) -> None:
    result = account.drafts.ensure(KEY, draft(KEY), recovering=False)
    raw = fake.messages[fake.drafts[str(result.remote_id)]]["raw"]
    msg = message_from_bytes(raw, policy=policy.default)
    assert msg["Message-ID"] == f"<{KEY}@followup.invalid>"
    assert msg["To"] == "Jane Doe <jane@acme.com>"
    assert msg.get_content().startswith("Hi Jane,")
    assert msg["Date"] is not None


@pytest.mark.parametrize("indexed", [True, False], ids=["search", "header-scan"])
def test_a_draft_whose_answer_was_lost_is_found_not_doubled(
        fake: FakeGoogle, account: Account, indexed: bool) -> None:
    fake.index_draft_message_ids = indexed
    fake.drop_next("gmail.users.drafts.create", after_apply=True)
    result = account.drafts.ensure(KEY, draft(KEY), recovering=False)
    assert result.outcome is WriteOutcome.CREATED
    assert len(fake.drafts) == 1 and fake.applied_then_dropped == ["gmail.users.drafts.create"]
    # A crash after the create: the next run is recovering and finds it by key.
    again = account.drafts.ensure(KEY, draft(KEY), recovering=True)
    assert (again.outcome, again.remote_id) == (WriteOutcome.EXISTED, result.remote_id)
    assert len(fake.drafts) == 1


def test_recovering_a_draft_the_user_already_sent_or_binned(fake: FakeGoogle,
                                                             account: Account) -> None:
    sent_key = keys.touch_key("work", "m@x", T0, "sent@acme.com", 0, "draft")
    binned_key = keys.touch_key("work", "m@x", T0, "binned@acme.com", 0, "draft")
    for key, label in ((sent_key, "SENT"), (binned_key, "TRASH")):
        result = account.drafts.ensure(key, draft(key), recovering=False)
        with fake.lock:
            mid = fake.drafts.pop(str(result.remote_id))
            fake.messages[mid]["labelIds"] = [label]
    sent = account.drafts.ensure(sent_key, draft(sent_key), recovering=True)
    binned = account.drafts.ensure(binned_key, draft(binned_key), recovering=True)
    assert sent.outcome is WriteOutcome.EXISTED
    assert binned.outcome is WriteOutcome.DISMISSED
    assert fake.drafts == {}  # neither was written again


def test_gmail_gets_a_raw_message_not_a_media_upload(fake: FakeGoogle,
                                                     account: Account) -> None:
    # media_body would go to https://…/upload even with an http endpoint; raw goes in JSON.
    account.drafts.ensure(KEY, draft(KEY), recovering=False)
    [(mid)] = list(fake.drafts.values())
    assert base64.urlsafe_b64encode(fake.messages[mid]["raw"])
    assert fake.counts()["gmail.users.drafts.create"] == 1


def test_invitations_are_looked_for_at_most_once_per_interval(
        fake: FakeGoogle, config: Config) -> None:
    """Most idle cycles cost nothing here: the look waits for `invitations_every_minutes`."""
    cfg = account_config(fake, invitations_every_minutes=30)
    connect(fake, cfg, config)
    clock = [datetime(2025, 3, 10, 12, 0, tzinfo=UTC)]
    account = open_google_account(cfg, config, clock=lambda: clock[0], sleep=lambda s: None)
    source = invitations(account)
    first = source.changes(None, WINDOW)
    fake.reset_log()
    clock[0] += timedelta(minutes=29)
    quiet = source.changes(first.cursor, WINDOW)
    assert fake.counts() == {}
    fake.add_message(eml("test-01-1.eml"), at=clock[0])
    clock[0] += timedelta(minutes=2)
    found = source.changes(quiet.cursor, WINDOW)
    assert [m.title for m in found.upserts] == ["Test Event 1"]
    assert fake.counts()["gmail.users.getProfile"] == 1

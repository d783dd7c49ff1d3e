"""Drafts land in the Maildir Drafts folder as drafts; blocks as .ics in the followups vdir."""

from __future__ import annotations

import email
import mailbox
from datetime import UTC, datetime, timedelta
from email import policy

from icalendar import Calendar

from followup import keys
from followup.model import (
    BlockPayload,
    DraftPayload,
    RemoteState,
    RemoveOutcome,
    WriteOutcome,
)

from .conftest import CLOCK, USER, Home

KEY = keys.touch_key("local", "uid@x", None, "jane@example.org", 0, "draft")


def draft(**kw: object) -> DraftPayload:
    fields: dict[str, object] = {
        "to": (("Jane Doe", "jane@example.org"),), "subject": "Roadmap review: following up",
        "body": "Hi Jane,\n\nThanks for the time today.\n", "message_id": keys.message_id(KEY),
        "from_addr": ("Me", USER),
    }
    fields.update(kw)
    return DraftPayload(**fields)  # type: ignore[arg-type]


def test_draft_is_a_draft_to_mail_clients(home: Home) -> None:
    drafts = home.account().drafts
    result = drafts.ensure(KEY, draft(), recovering=False)
    assert result.outcome is WriteOutcome.CREATED
    box = mailbox.Maildir(home.maildir / ".Drafts", create=False)
    [(msg_key, msg)] = list(box.items())
    assert "D" in msg.get_flags() and msg.get_subdir() == "cur"
    assert KEY in msg_key
    parsed = email.message_from_bytes(box.get_bytes(msg_key), policy=policy.default)
    assert parsed["Message-ID"] == keys.message_id(KEY)
    assert parsed["To"] == "Jane Doe <jane@example.org>"
    assert parsed["Date"].datetime == CLOCK
    assert "Thanks for the time today." in parsed.get_content()
    assert (home.maildir / ".Drafts" / "maildirfolder").exists()
    assert list((home.maildir / ".Drafts" / "tmp").iterdir()) == []
    assert (home.maildir / ".Drafts" / "cur" / result.remote_id).stat().st_mode & 0o777 == 0o600


def test_draft_ensure_twice_is_one_draft(home: Home) -> None:
    drafts = home.account().drafts
    first = drafts.ensure(KEY, draft(), recovering=False)
    for recovering in (True, False):
        again = drafts.ensure(KEY, draft(), recovering=recovering)
        assert (again.outcome, again.remote_id) == (WriteOutcome.EXISTED, first.remote_id)
    assert len(mailbox.Maildir(home.maildir / ".Drafts", create=False)) == 1


def test_a_draft_mutt_rewrote_under_a_new_name_is_edited_not_missing(home: Home) -> None:
    drafts = home.account().drafts
    result = drafts.ensure(KEY, draft(), recovering=False)
    assert result.remote_id
    old = home.maildir / ".Drafts" / "cur" / result.remote_id
    edited = old.read_bytes().replace(b"Thanks for the time today.", b"Great to meet you!")
    old.unlink()
    (home.maildir / ".Drafts" / "cur" / "1741622400.M1P2.laptop:2,DS").write_bytes(edited)
    assert drafts.state(KEY, result.remote_id, result.fingerprint) is RemoteState.EDITED
    assert drafts.remove(KEY, result.remote_id, result.fingerprint) is RemoveOutcome.KEPT
    assert drafts.ensure(KEY, draft(), recovering=True).outcome is WriteOutcome.EXISTED


def test_draft_to_a_bad_address_is_a_clear_error(home: Home) -> None:
    import pytest

    from followup.errors import InputError

    with pytest.raises(InputError):
        home.account().drafts.ensure(
            KEY, draft(to=(("Eve", "eve@example.org\r\nBcc: all@example.org"),)),
            recovering=False)
    assert not (home.maildir / ".Drafts" / "cur").exists() or not list(
        (home.maildir / ".Drafts" / "cur").iterdir())


def test_block_file_opens_as_an_event_and_is_written_once(home: Home) -> None:
    blocks = home.account().blocks
    start = datetime(2025, 3, 11, 8, tzinfo=UTC)
    payload = BlockPayload("Send follow-up to Jane Doe, Acme", "Draft in .Drafts",
                           start, start + timedelta(minutes=15))
    result = blocks.ensure(KEY, payload, recovering=False)
    assert result.outcome is WriteOutcome.CREATED and result.remote_id == f"{KEY}.ics"
    path = home.followups / f"{KEY}.ics"
    [event] = Calendar.from_ical(path.read_bytes()).walk("VEVENT")
    assert event["DTSTART"].dt == start and str(event["X-FOLLOWUP-KEY"]) == KEY
    assert event["DTSTAMP"].dt == CLOCK
    assert blocks.ensure(KEY, payload, recovering=True).outcome is WriteOutcome.EXISTED
    assert [p.name for p in home.followups.iterdir()] == [f"{KEY}.ics"]


def test_mail_history_reads_folders_and_knows_the_users_own_mail(home: Home) -> None:
    t0 = datetime(2025, 3, 10, 12, tzinfo=UTC)
    home.mail(sender="Jane <Jane@Example.org>", to=USER, at=t0, folder="")
    # A copy of the user's own message in the INBOX (Gmail-style) counts as sent.
    home.mail(sender=USER, to="bob@example.org, Jane <jane@example.org>",
              at=t0 + timedelta(hours=2), folder="")
    (home.maildir / "cur" / "broken:2,S").write_bytes(b"\xff\xfe not a message")
    mail = home.account().mail
    found = mail.last_interactions(["jane@example.org", "bob@example.org"], since=t0)
    assert found["jane@example.org"].direction == "sent"
    assert found["jane@example.org"].at == t0 + timedelta(hours=2)
    assert found["bob@example.org"].direction == "sent"
    later = mail.last_interactions(["jane@example.org"], since=t0 + timedelta(days=1))
    assert later == {}

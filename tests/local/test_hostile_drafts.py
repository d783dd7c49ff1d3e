"""End to end (issue 9): an invitation whose SUMMARY and ATTENDEE CN carry RFC 2047
encoded-words that decode to a Bcc line and to a second recipient still gives a Maildir draft
to exactly the one attendee, with no Cc or Bcc, the title kept as literal text."""

from __future__ import annotations

import base64
import email.policy
import mailbox
from datetime import timedelta
from email.parser import BytesParser
from email.utils import getaddresses
from pathlib import Path

from followup.core.compose import Composer
from followup.engine.cycle import run_cycle
from followup.ledger import Ledger, WriteState

from .conftest import CLOCK, USER, Home

EVIL = "attacker@evil.example"
JANE = "jane@acme.example"


def b_word(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="


SUMMARY = b_word(f"Partnership\r\nBcc: {EVIL}")
CN = b_word(f"Accounts <{EVIL}>, Bob")


def hostile_ics() -> str:
    start = (CLOCK - timedelta(hours=6)).strftime("%Y%m%dT%H%M%SZ")
    end = (CLOCK - timedelta(hours=5)).strftime("%Y%m%dT%H%M%SZ")
    return "\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//hostile//EN",
        "BEGIN:VEVENT", "UID:hostile-1@example.com", "DTSTAMP:20250301T080000Z",
        f"DTSTART:{start}", f"DTEND:{end}", f"SUMMARY:{SUMMARY}",
        f"ORGANIZER;CN=Me:mailto:{USER}",
        f"ATTENDEE;CN=Me;PARTSTAT=ACCEPTED:mailto:{USER}",
        f'ATTENDEE;CN="{CN}";PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT:mailto:{JANE}',
        "END:VEVENT", "END:VCALENDAR", "",
    ])


def test_a_hostile_invitation_gives_a_draft_to_one_recipient_and_no_bcc(
    home: Home, tmp_path: Path
) -> None:
    (home.calendar / "hostile.ics").write_text(hostile_ics())
    _, config = home.config()
    account = home.account()
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite3'}") as ledger:
        now = CLOCK
        for _ in range(30):
            run_cycle(config, ledger, account, Composer(config.user), now)
            if not ledger.writes(account.name, states=[WriteState.PENDING]):
                break
            now += timedelta(hours=1)
        assert not ledger.writes(account.name, states=[WriteState.FAILED])

    drafts = mailbox.Maildir(home.maildir / ".Drafts", create=False)
    assert len(drafts) == 1
    raw = drafts.get_bytes(next(iter(drafts.keys())))
    msg = BytesParser(policy=email.policy.strict).parsebytes(raw)
    assert [a.addr_spec for a in msg["To"].addresses] == [JANE]
    # A name like this is no name a person has: the draft addresses the bare mailbox (and
    # never decodes the encoded-word into a second recipient).
    assert msg["To"].addresses[0].display_name in ("", CN)
    for header in ("Cc", "Bcc", "Reply-To"):
        assert header not in msg
    # The title is literal text wherever the subject uses it: never its decoded form.
    assert "Partnership" not in str(msg["Subject"])
    assert EVIL.encode() not in raw
    compat = BytesParser(policy=email.policy.compat32).parsebytes(raw)
    assert [a for _, a in getaddresses([str(v) for v in compat.get_all("To")])] == [JANE]

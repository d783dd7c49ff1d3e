"""End to end (issue 9): a meeting whose title and attendee name carry RFC 2047 encoded-words
that decode to a Bcc line and to a second recipient still gives a Gmail draft (raw RFC 822)
to exactly the one attendee, with no Cc or Bcc."""

from __future__ import annotations

import base64
import email.policy
from datetime import timedelta
from email.parser import BytesParser

from fake_google import rfc3339
from google_cycles import ME, T0, Cycles

from followup.ledger import WriteState

EVIL = "attacker@evil.example"
JANE = "jane@acme.example"


def b_word(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode()).decode()}?="


def test_a_hostile_meeting_gives_a_raw_draft_to_one_recipient_and_no_bcc(cycles: Cycles) -> None:
    summary = b_word(f"Partnership\r\nBcc: {EVIL}")
    name = b_word(f"Accounts <{EVIL}>, Bob")
    cycles.fake.add_event("primary", {
        "summary": summary, "description": "We talked about the pilot.",
        "start": {"dateTime": rfc3339(T0)}, "end": {"dateTime": rfc3339(T0 + timedelta(hours=1))},
        "attendees": [
            {"email": ME, "self": True, "responseStatus": "accepted", "organizer": True},
            {"email": JANE, "displayName": name, "responseStatus": "accepted"},
        ]})
    cycles.until_settled(T0 + timedelta(hours=2))
    assert not cycles.ledger.writes("work", states=[WriteState.FAILED])

    [draft_message] = [cycles.fake.messages[mid] for mid in cycles.fake.drafts.values()]
    raw: bytes = draft_message["raw"]
    msg = BytesParser(policy=email.policy.strict).parsebytes(raw)
    assert [a.addr_spec for a in msg["To"].addresses] == [JANE]
    # No name a person has: the bare mailbox (and never its decoded second recipient).
    assert msg["To"].addresses[0].display_name in ("", name)
    for header in ("Cc", "Bcc", "Reply-To"):
        assert header not in msg
    # The title is literal text wherever the subject uses it: never its decoded form.
    assert "Partnership" not in str(msg["Subject"])
    assert EVIL.encode() not in raw

"""A hostile invitee controls SUMMARY, LOCATION, DESCRIPTION and every CN. Whatever they write,
the first note the planner composes goes to exactly the intended people, with no Cc or Bcc,
and re-parses under email.policy.strict (the whole path: material, occasion, templates,
MIME), and nothing of the description reaches the draft unless it was marked shareable."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import strict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from followup.config import DraftsConfig
from followup.core.compose import Composer
from followup.core.material import read_material
from followup.core.mime import render_mime
from followup.core.planner import PlanContext, plan_first_touch
from followup.model import Attendee, DraftPayload, PartStat, WriteKind

from .factories import ME, SCHEDULE, USER, local, meeting


def _b64_word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


FRAGMENTS = st.sampled_from([
    "Partnership", "Jane", "\r\nBcc: attacker@evil.example", "\nCc: x@evil.example",
    _b64_word("Partnership\r\nBcc: attacker@evil.example"),
    _b64_word("Accounts <attacker@evil.example>, Bob"),
    "=?utf-8?q?Hi=0D=0ABcc:_a@evil.example?=", "=?iso-8859-1?q?Caf=E9?=",
    "\x00", "\x1b[31m", "\u202e", "\u200b", "<", ">", ",", ";", '"', "@", "\\",
    "Accounts <attacker@evil.example>", "mailto:attacker@evil.example", " " * 3, "é" * 40,
    "x" * 300,
])
HOSTILE = st.lists(FRAGMENTS, min_size=0, max_size=6).map("".join)

NOW = local(2026, 3, 3, 11, 15)
CTX = PlanContext(account="acct", now=NOW, user=USER, schedule=SCHEDULE, composer=Composer(USER),
                  where_drafts_are="your Drafts folder", drafts=DraftsConfig())


def parsed(raw: bytes) -> EmailMessage:
    msg = message_from_bytes(raw, policy=strict)
    assert isinstance(msg, EmailMessage)
    return msg


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=HOSTILE, location=HOSTILE, description=HOSTILE, cn=HOSTILE, cn2=HOSTILE)
def test_a_hostile_invite_never_adds_a_recipient_or_leaks_the_notes(
    title: str, location: str, description: str, cn: str, cn2: str
) -> None:
    jane = Attendee("jane@acme.example", cn, PartStat.ACCEPTED)
    jim = Attendee("jim@acme.example", cn2, PartStat.ACCEPTED)
    m = meeting(ME, jane, jim, title=title, location=location,
                description=description + "\nSECRET-NOTE seemed bored")
    plan = plan_first_touch(CTX, m, [jane, jim], material=read_material(m.description),
                            interactions={}, busy=[], taken=[])
    drafts = [i.payload for i in plan.intents if i.kind is WriteKind.DRAFT]
    assert len(drafts) == 1
    (draft,) = drafts
    assert isinstance(draft, DraftPayload)
    raw = render_mime(draft, date=datetime(2026, 3, 3, 11, 20, tzinfo=UTC))
    msg = parsed(raw)
    assert [a.addr_spec for a in msg["To"].addresses] == ["jane@acme.example", "jim@acme.example"]
    for header in ("Cc", "Bcc", "Reply-To", "Resent-To"):
        assert header not in msg
    body = msg.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "seemed bored" not in text and "SECRET-NOTE" not in text
    assert "attacker@evil.example" not in str(msg["Subject"])

"""Drafts as messages: hostile titles and names cannot add a header or a recipient.

Every rendered draft here is parsed again with `email.policy.strict` (what a careful mail
client would see) and with the compat32 parser (a reader that splits addresses before decoding
anything); both must find exactly the intended recipient and no Cc/Bcc.
"""

from __future__ import annotations

import base64
import email.policy
from datetime import UTC, datetime
from email import quoprimime
from email.parser import BytesParser
from email.utils import getaddresses

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from followup.core.mime import UnsafeMessage, check_recipients, display_name, render_mime
from followup.core.text import one_line
from followup.model import DraftPayload

DATE = datetime(2026, 3, 3, 11, 10, tzinfo=UTC)
TO = "jane@acme.example"
ME = "me@example.com"
MESSAGE_ID = "<k0123@followup.invalid>"
HEADERS = {
    "from", "to", "subject", "date", "message-id",
    "content-type", "content-transfer-encoding", "mime-version",
}  # fmt: skip


def b_word(text: str, charset: str = "utf-8") -> str:
    return f"=?{charset}?b?{base64.b64encode(text.encode(charset)).decode()}?="


def q_word(text: str, charset: str = "utf-8") -> str:
    return quoprimime.header_encode(text.encode(charset), charset)


# What an attacker wants a reader to decode: a new header line, a second or other recipient.
PAYLOADS = [
    "X\r\nBcc: a@evil.example",
    "Partnership\r\nBcc: attacker@evil.example",
    "Accounts <attacker@evil.example>, Bob",
    "x\nTo: b@evil.example\n",
    '"Bob" <bob@evil.example>; c@evil.example',
    "Jane\r\nCc: c@evil.example\r\nReply-To: r@evil.example",
]
ENCODED = (
    [b_word(p) for p in PAYLOADS]
    + [q_word(p) for p in PAYLOADS]
    + [b_word(p, "iso-8859-1") for p in PAYLOADS]
    + [q_word("Ét\xe9\r\nBcc: a@evil.example", "iso-8859-1")]
    + ["=?UTF-8?Q?a=0D=0ABcc=3A_a=40evil.example?=", "=?utf-8*en?b?" + b_word(PAYLOADS[0])[10:]]
)
FRAGMENTS = [
    *ENCODED,
    "\r", "\n", "\r\n", "\x00", "\x1b[31m", "\u202e", "\u200b", "\t",
    "<", ">", ",", ";", '"', "@", "\\", "(", ")", ":", ".", "[", "]",
    " ", "=?", "?=", "=?utf-8?b?", "?q?", "Bcc:", "a@evil.example",
    "Jane", "Doe", "Zoë", "Ångström", "山田", "🙂",
]  # fmt: skip
hostile = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), max_size=10
).map("".join) | st.sampled_from(["x" * 1200, "=?utf-8?q?" + "a" * 900 + "?=", "wörd " * 300])


def draft(name: str | None, subject: str, *, sender: str | None = "Me Myself") -> DraftPayload:
    return DraftPayload(
        to=((name, TO),),
        subject=subject,
        body="Hello,\n\nthanks for today.\n",
        message_id=MESSAGE_ID,
        from_addr=(sender, ME),
    )


def strict(raw: bytes) -> email.message.EmailMessage:
    msg = BytesParser(policy=email.policy.strict).parsebytes(raw)
    assert isinstance(msg, email.message.EmailMessage)
    return msg


def assert_says_only_what_was_meant(raw: bytes, d: DraftPayload) -> None:
    head = raw.split(b"\r\n\r\n", 1)[0]
    head.decode("ascii")  # 7-bit headers: anything else is an encoded-word
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    msg = strict(raw)
    assert {k.lower() for k in msg} == HEADERS
    assert len(msg.keys()) == len(HEADERS)
    for name in ("Cc", "Bcc", "Reply-To", "Resent-To"):
        assert name not in msg
    [to] = msg["To"].addresses
    assert to.addr_spec == TO
    assert to.display_name == (display_name(d.to[0][0]) or "")
    assert not msg["To"].defects and not msg["Subject"].defects and not msg["From"].defects
    assert str(msg["Subject"]) == one_line(d.subject, 998)
    assert [a.addr_spec for a in msg["From"].addresses] == [ME]
    assert msg["From"].addresses[0].display_name == (display_name(d.from_addr[0]) or "")  # type: ignore[index]
    assert msg["Message-ID"] == MESSAGE_ID
    assert msg.get_content().replace("\r\n", "\n") == d.body
    # A reader that takes addresses from the undecoded text sees the same single recipient.
    raw_msg = BytesParser(policy=email.policy.compat32).parsebytes(raw)
    raw_to = [str(v).replace("\r\n", "") for v in raw_msg.get_all("To") or []]
    assert [addr for _, addr in getaddresses(raw_to)] == [TO]
    assert raw_msg.get_all("Bcc") is None and raw_msg.get_all("Cc") is None


# --- the attacks of issue 9 ---------------------------------------------------------------


def test_an_encoded_word_in_the_title_does_not_become_a_bcc_line() -> None:
    subject = "Following up on " + b_word("Partnership\r\nBcc: attacker@evil.example")
    d = draft("Jane Doe", subject)
    raw = render_mime(d, date=DATE)
    assert b"\r\nBcc:" not in raw and b"attacker@evil.example" not in raw
    assert_says_only_what_was_meant(raw, d)
    assert str(strict(raw)["Subject"]) == subject  # the literal text, "=?" and all


def test_an_encoded_word_in_a_name_does_not_add_a_recipient() -> None:
    name = b_word("Accounts <attacker@evil.example>, Bob")
    d = draft(name, "Following up")
    raw = render_mime(d, date=DATE)
    assert_says_only_what_was_meant(raw, d)
    assert strict(raw)["To"].addresses[0].display_name == name


@pytest.mark.parametrize("payload", ENCODED)
def test_every_encoded_attack_reads_back_literally(payload: str) -> None:
    d = draft(f"Jane {payload}", f"Chat {payload}")
    assert_says_only_what_was_meant(render_mime(d, date=DATE), d)


def test_ordinary_headers_stay_readable() -> None:
    raw = render_mime(draft("Jane Doe", "Following up on the pilot"), date=DATE)
    assert b"To: Jane Doe <jane@acme.example>\r\n" in raw
    assert b"Subject: Following up on the pilot\r\n" in raw
    raw = render_mime(draft("Doe, Jane", "x"), date=DATE)
    assert b'To: "Doe, Jane" <jane@acme.example>\r\n' in raw


def test_long_and_non_ascii_values_fold_and_read_back() -> None:
    d = draft("Zoë Ångström-" + "Lindqvist" * 12, "Über " * 150)
    raw = render_mime(d, date=DATE)
    assert_says_only_what_was_meant(raw, d)
    subject_lines = raw.split(b"Subject:", 1)[1].split(b"\r\nDate:", 1)[0].split(b"\r\n")
    assert len(subject_lines) > 1 and all(len(line) <= 78 for line in subject_lines)


# --- the fuzzer ---------------------------------------------------------------------------


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=hostile, subject=hostile, sender=hostile)
@example(name=b_word(PAYLOADS[2]), subject=b_word(PAYLOADS[1]), sender=q_word(PAYLOADS[0]))
@example(name="\x00\u202e" + q_word(PAYLOADS[4]), subject="\x1b[31m\r\n\r\nBody", sender="")
def test_no_title_or_name_changes_who_a_draft_goes_to(name: str, subject: str, sender: str) -> None:
    d = draft(name, subject, sender=sender)
    assert_says_only_what_was_meant(render_mime(d, date=DATE), d)


# --- what render_mime refuses, and check_recipients for providers -------------------------


@pytest.mark.parametrize(
    "address",
    [
        "jane@acme.example\r\nBcc: x@evil.example",
        "=?utf-8?q?x=3E=2C_a=40evil.example?=@acme.example",
        "jane@acme.example, a@evil.example",
        "Jane <jane@acme.example>",
        "zoë@acme.example",
        "not an address",
        "",
    ],
)
def test_an_address_that_is_not_one_plain_address_is_refused(address: str) -> None:
    d = DraftPayload(to=((None, address),), subject="s", body="b\n", message_id=MESSAGE_ID)
    with pytest.raises(ValueError, match="address"):
        render_mime(d, date=DATE)


@pytest.mark.parametrize(
    "message_id", ["<k@x>\r\nBcc: a@evil.example", "k@x", "<a@b@x>", "<é@x>", ""]
)
def test_a_broken_message_id_is_refused(message_id: str) -> None:
    d = DraftPayload(to=((None, TO),), subject="s", body="b\n", message_id=message_id)
    with pytest.raises(ValueError, match="Message-ID"):
        render_mime(d, date=DATE)


def test_several_recipients_are_all_there_and_nobody_else() -> None:
    d = DraftPayload(
        to=(("Doe, Jane", TO), (b_word(PAYLOADS[2]), "bob@globex.example")),
        subject="s",
        body="b\n",
        message_id=MESSAGE_ID,
    )
    msg = strict(render_mime(d, date=DATE))
    assert [a.addr_spec for a in msg["To"].addresses] == [TO, "bob@globex.example"]


CLEAN = (
    b"From: me@example.com\r\nTo: Jane <jane@acme.example>\r\nSubject: s\r\n"
    b"Date: Tue, 03 Mar 2026 11:10:00 +0000\r\nMessage-ID: <k@x>\r\n\r\nbody\r\n"
)


def test_check_recipients_passes_a_message_to_exactly_the_intended_people() -> None:
    check_recipients(CLEAN, [TO])
    with pytest.raises(UnsafeMessage):
        check_recipients(CLEAN, [TO, "bob@globex.example"])
    with pytest.raises(UnsafeMessage):
        check_recipients(CLEAN, ["bob@globex.example"])


@pytest.mark.parametrize(
    "change",
    [
        (b"Subject: s\r\n", b"Subject: s\r\nBcc: a@evil.example\r\n"),
        (b"Subject: s\r\n", b"Subject: s\r\nCc: a@evil.example\r\n"),
        (b"Subject: s\r\n", b"Subject: s\r\nReply-To: a@evil.example\r\n"),
        (b"Subject: s\r\n", b"Subject: s\r\nResent-To: a@evil.example\r\n"),
        (b"Subject: s\r\n", b"Subject: s\r\nTo: a@evil.example\r\n"),
        (b"jane@acme.example>", b"jane@acme.example>, a@evil.example"),
        (b"Jane <jane@acme.example>", b"Jane <jane@acme.example"),
        (b"Jane <jane", b"Jane <=?utf-8?q?a=40evil.example=2C_?=jane"),
        (b"Subject: s\r\n", b"Subject: s\r\nnot a header line\r\nBcc: a@evil.example\r\n"),
    ],
)
def test_check_recipients_refuses_anything_more_or_broken(change: tuple[bytes, bytes]) -> None:
    raw = CLEAN.replace(*change)
    assert raw != CLEAN
    with pytest.raises(UnsafeMessage):
        check_recipients(raw, [TO])


def test_unsafe_message_is_a_value_error_so_writers_skip_it_as_bad_input() -> None:
    assert issubclass(UnsafeMessage, ValueError)

"""A later draft in the thread of the last mail: the MIME headers it carries, and what the
local mail history tells of that mail."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import pytest

from followup.core.mime import render_mime
from followup.model import DraftPayload
from followup.providers.local.mailhistory import MaildirMailHistory

T0 = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)


def draft(**kw: object) -> DraftPayload:
    return DraftPayload(to=(("Jane Doe", "jane@acme.example"),), subject="Re: Numbers",
                        body="Hi Jane,\n", message_id="<k1@followup.invalid>", **kw)  # type: ignore[arg-type]


def test_a_reply_draft_carries_in_reply_to_and_references() -> None:
    refs = tuple(f"<r{i}@acme.example>" for i in range(30))
    raw = render_mime(draft(in_reply_to="<last@acme.example>", references=refs), date=T0)
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["In-Reply-To"] == "<last@acme.example>"
    got = str(msg["References"]).split()
    assert got[-1] == "<last@acme.example>" and len(got) == 21  # the latest 20, then it
    assert got[0] == "<r10@acme.example>"


@pytest.mark.parametrize("hostile", [
    "<a@b.example>\r\nBcc: evil@x.example",
    "not an id",
    "<a@b.example> <c@d.example>",
    "=?utf-8?q?<a@b.example>?=",
])
def test_an_id_that_is_not_a_plain_msg_id_is_dropped_never_written(hostile: str) -> None:
    raw = render_mime(draft(in_reply_to=hostile, references=(hostile,)), date=T0)
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["In-Reply-To"] is None and msg["References"] is None
    assert msg["Bcc"] is None
    assert [a.addr_spec for a in msg["To"].addresses] == ["jane@acme.example"]


def test_without_a_thread_no_threading_headers() -> None:
    msg = email.message_from_bytes(render_mime(draft(), date=T0), policy=policy.default)
    assert msg["In-Reply-To"] is None and msg["References"] is None


def test_the_local_history_names_the_last_message_and_its_subject(tmp_path: Path) -> None:
    root = tmp_path / "Maildir"
    for folder in ("", ".Sent"):
        for sub in ("cur", "new", "tmp"):
            (root / folder / sub).mkdir(parents=True, exist_ok=True)
    (root / "cur" / "1.M1P1.x:2,S").write_bytes(
        b"From: Jane <jane@acme.example>\r\nTo: me@example.com\r\n"
        b"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_Berlin?=\r\n"
        b"Date: Mon, 05 Oct 2026 10:00:00 +0000\r\nMessage-ID: <m1@acme.example>\r\n\r\nhi\r\n")
    (root / ".Sent" / "cur" / "2.M2P1.x:2,S").write_bytes(
        b"From: me@example.com\r\nTo: jane@acme.example\r\nSubject: Re: Hello\r\n"
        b"Date: Sun, 04 Oct 2026 10:00:00 +0000\r\nMessage-ID: <m0@example.com>\r\n\r\nhi\r\n")
    history = MaildirMailHistory(root, [".Sent"], [""], ["me@example.com"])
    seen = history.last_interactions(["jane@acme.example"], since=T0.replace(day=1))
    last = seen["jane@acme.example"]
    assert (last.direction, last.message_id, last.subject) == (
        "received", "<m1@acme.example>", "Grüße aus Berlin")

"""PLAYBOOK §2 in the drafts: personal, concrete, honest placeholders; and safe MIME."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest

from followup import keys
from followup.config import UserConfig
from followup.core.compose import Composer, TemplateProblem, contact_note, render_mime
from followup.core.state import PersonState
from followup.model import Attendee, DraftPayload, Interval, Meeting

from .factories import BERLIN, JANE, ME, USER, local, meeting

DATA = Path(__file__).parent / "data"
ZOOM = (DATA / "zoom.txt").read_text(encoding="utf-8")
NOTES = "You wanted the Q3 benchmark article; here it is: https://example.org/q3."
SLOTS = [
    Interval(local(2026, 3, 4, 10, 30), local(2026, 3, 4, 11)),
    Interval(local(2026, 3, 5, 14, 30), local(2026, 3, 5, 15)),
]
KEY = keys.touch_key("acct", "m1@example.com", local(2026, 3, 3, 10), JANE.email, 0, "draft")


def first_touch(
    m: Meeting | None = None,
    person: Attendee = JANE,
    *,
    slots: list[Interval] = SLOTS,
    composer: Composer | None = None,
) -> DraftPayload:
    m = m or meeting(
        ME, JANE, description=NOTES + "\n\n" + ZOOM, conference_url="https://zoom.us/j/1"
    )
    return (composer or Composer(USER)).first_touch(
        m, person, others=[], slots=slots, key=KEY, tz=BERLIN
    )


def parse(raw: bytes) -> EmailMessage:
    msg = message_from_bytes(raw, policy=default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_first_touch_matches_the_golden_file() -> None:
    # A file read and approved by a person; regenerate deliberately, never blindly.
    golden = (DATA / "first_touch.golden.txt").read_text(encoding="utf-8")
    assert first_touch().body == golden


def test_first_touch_is_personal_and_concrete() -> None:
    draft = first_touch()
    body = draft.body
    assert body.startswith("Hello Jane,\n")
    assert "Benchmark chat" in body
    assert "Tuesday 3 March 2026" in body
    assert "video call" in body
    assert NOTES in body
    for text in (
        "Wednesday 4 March 2026, 10:30–11:00 CET",
        "Thursday 5 March 2026, 14:30–15:00 CET",
    ):
        assert text in body
    assert "[[" not in body  # nothing left for the user to fill in
    assert body.rstrip().endswith(USER.signature)
    assert USER.intro in body
    assert draft.subject == "Following up on Benchmark chat"
    assert draft.to == (("Jane Doe", JANE.email),)
    assert draft.message_id == f"<{KEY}@followup.invalid>"
    assert draft.from_addr == ("Ada Lovelace", "ada@lovelace.dev")


def test_no_zoom_boilerplate_reaches_the_draft() -> None:
    body = first_touch().body
    for leftover in ("zoom.us", "Meeting ID", "Passcode", "One tap", "+1 646", "inviting you"):
        assert leftover not in body


def test_without_notes_a_visible_placeholder_stands_in_for_them() -> None:
    body = first_touch(meeting(ME, JANE, description=ZOOM)).body
    assert "[[ Add what you discussed and what you promised" in body
    assert "Join Zoom Meeting" not in body


def test_without_free_slots_a_placeholder_asks_for_a_next_step() -> None:
    body = first_touch(slots=[]).body
    assert "[[ Propose one concrete next step" in body


def test_a_venue_is_named_and_a_video_link_is_not_quoted() -> None:
    at_venue = meeting(ME, JANE, location="Café Einstein, Berlin")
    assert "(Café Einstein, Berlin)" in first_touch(at_venue).body
    linked = meeting(ME, JANE, location="https://acme.zoom.us/j/81234567890")
    body = first_touch(linked).body
    assert "video call" in body and "zoom.us" not in body


@pytest.mark.parametrize("name", ["SMITH, JOHN", "jane@x.com", "Acme Corp", None])
def test_unreliable_names_get_a_neutral_greeting(name: str | None) -> None:
    body = first_touch(person=Attendee("john.smith@acme.com", name)).body
    assert body.startswith("Hello,\n")


def test_non_latin_names_are_greeted_as_written() -> None:
    body = first_touch(person=Attendee("taro@example.jp", "山田太郎")).body
    assert body.startswith("Hello 山田太郎,\n")


def test_a_title_with_line_breaks_gives_a_one_line_subject() -> None:
    m = meeting(ME, JANE, title="Intro\r\nBcc: evil@example.com\n\tcall")
    draft = first_touch(m)
    assert draft.subject == "Following up on Intro Bcc: evil@example.com call"


def test_a_user_template_overrides_the_shipped_one(tmp_path: Path) -> None:
    (tmp_path / "first_touch.txt.j2").write_text(
        "Hi {{ greeting_name or 'there' }}! {{ meeting.title }} was fun.\n", encoding="utf-8"
    )
    composer = Composer(USER, tmp_path)
    assert first_touch(composer=composer).body == "Hi Jane! Benchmark chat was fun.\n"
    # Templates the user did not override still come from the package.
    state = _state()
    assert "[[ Share one useful thing" in composer.nurture(state, key=KEY, tz=BERLIN).body


def test_a_user_template_with_an_unknown_variable_fails_clearly(tmp_path: Path) -> None:
    (tmp_path / "first_touch.txt.j2").write_text("Hi {{ nickname }}\n", encoding="utf-8")
    with pytest.raises(TemplateProblem, match="nickname"):
        first_touch(composer=Composer(USER, tmp_path))


def test_check_reports_a_broken_user_template(tmp_path: Path) -> None:
    (tmp_path / "nurture.txt.j2").write_text("{% if %}\n", encoding="utf-8")
    problems = Composer(USER, tmp_path).check()
    assert len(problems) == 1 and "nurture.txt.j2" in problems[0]
    assert Composer(USER).check() == []


def _state(**kw: object) -> PersonState:
    base = PersonState(
        email="jane.doe@acme-corp.com",
        name="Jane Doe",
        first_met=local(2026, 3, 3, 10),
        last_meeting_title="Benchmark chat",
        anchor=local(2026, 3, 3, 11),
        touches=1,
        open_touch=False,
    )
    return dataclasses.replace(base, **kw)


def test_nurture_is_a_light_touch_with_a_placeholder_and_no_pitch() -> None:
    draft = Composer(USER).nurture(_state(), key=KEY, tz=BERLIN)
    assert draft.body.startswith("Hello Jane,\n")
    assert "[[ Share one useful thing" in draft.body
    assert "Benchmark chat" in draft.body
    assert "Benchmark chat" in draft.subject
    for pitch in ("price", "offer", "discount", "brochure"):
        assert pitch not in draft.body.lower()


def test_first_touch_block_says_who_why_and_where_the_draft_is() -> None:
    m = meeting(ME, JANE, location="Café Einstein")
    block = Composer(USER).first_touch_block(
        m,
        JANE,
        start=local(2026, 3, 3, 11, 10),
        end=local(2026, 3, 3, 11, 25),
        conflict=False,
        where_drafts_are="your Gmail Drafts folder",
        tz=BERLIN,
    )
    assert block.summary == "Send follow-up to Jane Doe, Acme Corp"
    assert JANE.email in block.description
    assert "Met at Benchmark chat, 3 March 2026 (Café Einstein)" in block.description
    assert "your Gmail Drafts folder" in block.description
    assert "overlaps" not in block.description


def test_weekly_block_lists_everyone_and_flags_a_conflict() -> None:
    people = [_state(), _state(email="bob@roe.example", name="Bob Roe", last_meeting_title="Expo")]
    block = Composer(USER).nurture_block(
        people,
        start=local(2026, 3, 27, 15),
        end=local(2026, 3, 27, 15, 45),
        conflict=True,
        where_drafts_are="the Drafts folder",
        tz=BERLIN,
    )
    # "Roe" (from roe.example) adds nothing to "Bob Roe", so it is left out.
    assert block.summary == "Send 2 follow-ups: Jane Doe, Acme Corp; Bob Roe"
    assert "- Jane Doe, Acme Corp (jane.doe@acme-corp.com)" in block.description
    assert "Expo" in block.description
    assert "overlaps something else" in block.description
    assert block.conflict


def test_contact_note_names_the_meeting_date_and_place() -> None:
    m = meeting(ME, JANE, conference_url="https://meet.google.com/abc-defg-hij")
    assert contact_note(m, BERLIN) == "Met at Benchmark chat, 3 March 2026 (video call)"
    assert contact_note(meeting(ME, JANE), BERLIN) == "Met at Benchmark chat, 3 March 2026"


# --- render_mime ---------------------------------------------------------------------------------

DATE = datetime(2026, 3, 3, 11, 10, tzinfo=UTC)


def test_render_mime_round_trips_headers_and_body() -> None:
    draft = first_touch()
    msg = parse(render_mime(draft, date=DATE))
    assert msg["Message-ID"] == draft.message_id
    assert msg["Subject"] == draft.subject
    assert msg["From"].addresses[0].addr_spec == "ada@lovelace.dev"
    assert msg["To"].addresses[0].display_name == "Jane Doe"
    assert msg["To"].addresses[0].addr_spec == JANE.email
    assert msg["Date"].datetime == DATE
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content().replace("\r\n", "\n") == draft.body


def test_render_mime_encodes_non_ascii_names_and_subjects() -> None:
    draft = first_touch(
        meeting(ME, JANE, title="Café über Ölpreise"), Attendee("zoe@example.se", "Zoë Ångström")
    )
    raw = render_mime(draft, date=DATE)
    head = raw.split(b"\r\n\r\n", 1)[0]
    head.decode("ascii")  # headers stay 7-bit: RFC 2047 encoded words
    msg = parse(raw)
    assert msg["To"].addresses[0].display_name == "Zoë Ångström"
    assert msg["Subject"] == "Following up on Café über Ölpreise"
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_render_mime_without_from_leaves_it_out() -> None:
    composer = Composer(UserConfig(timezone="Europe/Berlin"))
    msg = parse(render_mime(first_touch(composer=composer), date=DATE))
    assert "From" not in msg


EXPECTED_HEADERS = {
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "Content-Type",
    "Content-Transfer-Encoding",
    "MIME-Version",
}


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("Jane\r\nBcc: evil@example.com", "Chat"),
        ("Jane", "Chat\r\nBcc: evil@example.com"),
        ("Jane\nX-Injected: 1", "Chat\rX-Injected: 1"),
        ('Jane" <evil@example.com>, "Bob', "Chat"),
    ],
)
def test_no_header_injection_through_names_or_titles(name: str, title: str) -> None:
    draft = first_touch(meeting(ME, JANE, title=title), Attendee("jane@acme.com", name))
    msg = parse(render_mime(draft, date=DATE))
    assert set(msg.keys()) == EXPECTED_HEADERS
    assert [a.addr_spec for a in msg["To"].addresses] == ["jane@acme.com"]


def test_render_mime_flattens_a_hand_made_payload_too() -> None:
    draft = DraftPayload(
        to=(("Eve\r\nBcc: x@example.com", "jane@acme.com"),),
        subject="Hi\r\nBcc: x@example.com",
        body="Body\n",
        message_id="<k@followup.invalid>",
    )
    msg = parse(render_mime(draft, date=DATE))
    assert set(msg.keys()) == EXPECTED_HEADERS - {"From"}
    assert msg["Subject"] == "Hi Bcc: x@example.com"


@pytest.mark.parametrize("address", ["jane@acme.com\r\nBcc: x@example.com", "not an address", ""])
def test_render_mime_refuses_a_broken_address(address: str) -> None:
    draft = DraftPayload(to=((None, address),), subject="s", body="b\n", message_id="<k@x>")
    with pytest.raises(ValueError, match="address"):
        render_mime(draft, date=DATE)


def test_contact_note_for_a_second_meeting_says_met_again() -> None:
    from zoneinfo import ZoneInfo

    from followup.core.compose import contact_note
    from followup.model import Meeting

    start = datetime(2026, 3, 3, 10, tzinfo=UTC)
    m = Meeting(uid="u", start=start, end=start + timedelta(hours=1), title="Q2 planning")
    assert contact_note(m, ZoneInfo("UTC")).startswith("Met at Q2 planning, ")
    assert contact_note(m, ZoneInfo("UTC"), again=True).startswith("Met again at Q2 planning, ")

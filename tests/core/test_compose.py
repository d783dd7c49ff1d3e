"""PLAYBOOK §2 in the drafts: private notes stay private, the words are a person's, the next
step is concrete, placeholders are honest; and safe MIME."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from followup import keys
from followup.config import UserConfig
from followup.core.compose import Composer, TemplateProblem, contact_note, render_mime
from followup.core.drafting import BlockDraft, BlockItem, FirstNote, Recipient
from followup.core.material import Material, read_material
from followup.core.state import PersonState
from followup.model import Attendee, DraftPayload, Interval, Meeting

from .factories import BERLIN, BOB, JANE, ME, USER, local, meeting

DATA = Path(__file__).parent / "data"
ZOOM = (DATA / "zoom.txt").read_text(encoding="utf-8")
NOTES = (
    "Jane leads benchmarking at Acme. Seemed skeptical about our pricing, DON'T discount.\n"
    "Promised: send the Q3 benchmark article\n"
    "wants a demo of the dashboard"
)
SLOTS = [
    Interval(local(2026, 3, 4, 10, 30), local(2026, 3, 4, 11)),
    Interval(local(2026, 3, 5, 14, 30), local(2026, 3, 5, 15)),
]
KEY = keys.touch_key("acct", "m1@example.com", local(2026, 3, 3, 10), JANE.email, 0, "draft")
# The draft is written the afternoon of the meeting.
NOW = local(2026, 3, 3, 11, 15)


def note(
    m: Meeting | None = None,
    *people: Attendee,
    slots: list[Interval] = SLOTS,
    their_tz: ZoneInfo | None = None,
    language: str = "en",
    known: bool = False,
    card: tuple[str, str] | None = None,
    material: Material | None = None,
) -> FirstNote:
    m = m or meeting(
        ME, JANE, description=NOTES + "\n\n" + ZOOM, conference_url="https://zoom.us/j/1"
    )
    recipients = tuple(
        Recipient(p, known=known, card_name=card[0] if card else None,
                  card_given_name=card[1] if card else None)
        for p in (people or (JANE,))
    )
    return FirstNote(
        meeting=m,
        recipients=recipients,
        material=material or read_material(m.description, title=m.title),
        slots=tuple(slots),
        their_tz=their_tz,
        language=language,  # type: ignore[arg-type]
        key=KEY,
    )


def first_touch(
    m: Meeting | None = None,
    *people: Attendee,
    composer: Composer | None = None,
    booking_url: str = "",
    **kw: object,
) -> DraftPayload:
    return (composer or Composer(USER)).first_touch(
        note(m, *people, **kw),  # type: ignore[arg-type]
        now=NOW, tz=BERLIN, booking_url=booking_url, slot_minutes=30,
    )


def parse(raw: bytes) -> EmailMessage:
    msg = message_from_bytes(raw, policy=default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_first_touch_matches_the_golden_file() -> None:
    # A file read and approved by a person; regenerate deliberately, never blindly.
    golden = (DATA / "first_touch.golden.txt").read_text(encoding="utf-8")
    assert first_touch().body == golden


def test_the_private_notes_never_reach_the_draft() -> None:
    draft = first_touch()
    text = draft.subject + "\n" + draft.body
    for private in ("skeptical", "pricing", "DON'T", "discount", "leads benchmarking"):
        assert private not in text


def test_first_touch_is_personal_and_concrete() -> None:
    draft = first_touch()
    body = draft.body
    assert body.startswith("Hi Jane,\n")
    assert "Great to meet you on our call today." in body  # relative to the send day
    assert "As promised, here is the Q3 benchmark article: [[ link or attachment ]]" in body
    assert "Shall we find a time for a demo of the dashboard?" in body
    for text in ("Wednesday 4 March, 10:30–11:00", "Thursday 5 March, 14:30–15:00"):
        assert f"- {text}\n" in body
    assert "2026" not in body and "Benchmark chat" not in body
    assert body.rstrip().endswith(USER.signature)
    assert USER.intro in body
    assert draft.subject == "The Q3 benchmark article"
    assert draft.to == (("Jane Doe", JANE.email),)
    assert draft.message_id == f"<{KEY}@followup.invalid>"
    assert draft.from_addr == ("Ada Lovelace", "ada@lovelace.dev")


def test_no_zoom_boilerplate_reaches_the_draft() -> None:
    body = first_touch().body
    for leftover in ("zoom.us", "Meeting ID", "Passcode", "One tap", "+1 646", "inviting you"):
        assert leftover not in body


def test_without_notes_a_visible_placeholder_stands_in_for_them() -> None:
    draft = first_touch(meeting(ME, JANE, description=ZOOM))
    assert "[[ One line on what you talked about" in draft.body
    assert "Join Zoom Meeting" not in draft.body
    assert draft.subject == "Thanks for the call"


def test_shareable_lines_reach_the_draft_verbatim_and_nothing_else() -> None:
    notes = "> Loved your point about cache-aware benchmarks.\nThinks we're too small."
    body = first_touch(meeting(ME, JANE, description=notes)).body
    assert "Loved your point about cache-aware benchmarks." in body
    assert "too small" not in body and ">" not in body
    assert "[[ One line" not in body


def test_without_free_slots_a_placeholder_asks_for_a_next_step() -> None:
    body = first_touch(slots=[]).body
    assert "[[ Propose one concrete next step" in body


def test_a_booking_page_replaces_the_slots() -> None:
    body = first_touch(slots=[], booking_url="https://cal.example/ada").body
    assert "https://cal.example/ada" in body and "[[ Propose" not in body


def test_slots_are_written_in_both_zones_when_the_other_side_is_elsewhere() -> None:
    la = ZoneInfo("America/Los_Angeles")
    slot = Interval(local(2026, 3, 4, 17), local(2026, 3, 4, 17, 30))
    body = first_touch(slots=[slot], their_tz=la).body
    assert "- Wednesday 4 March, 8:00–8:30 your time (Los Angeles) / 17:00–17:30 Berlin" in body


def test_the_venue_is_named_by_its_short_name_and_never_its_street() -> None:
    at_venue = meeting(ME, JANE, title="Coffee with Jane Doe",
                       location="Café Einstein Stammhaus, Kurfürstenstraße 58, 10785 Berlin")
    draft = first_touch(at_venue)
    assert "Great to meet you over coffee at Café Einstein Stammhaus today." in draft.body
    assert "Kurfürstenstraße" not in draft.body and "Jane Doe" not in draft.subject


def test_someone_already_known_is_not_told_good_to_meet_you() -> None:
    call = meeting(ME, JANE, title="[EXT] Call", description="")
    body = first_touch(call, known=True).body
    assert "Thanks for the call today." in body
    assert "meet" not in body.lower()
    assert USER.intro not in body  # no who-I-am line for someone who knows the user


def test_the_cards_given_name_wins_over_a_shouting_invite() -> None:
    klaus = Attendee("klaus.weber@weber-gmbh.de", "WEBER, KLAUS")
    body = first_touch(meeting(ME, klaus), klaus, card=("Klaus Weber", "Klaus")).body
    assert body.startswith("Hi Klaus,\n")


def test_german_notes_give_a_german_draft() -> None:
    m = meeting(ME, JANE, title="Kaffee mit Jane",
                description="Versprochen: Artikel über Kalman-Filter schicken. "
                            "Sie war sehr interessiert an einer Zusammenarbeit mit uns.")
    draft = first_touch(m, language="de")
    assert draft.body.startswith("Hallo Jane Doe,\n")
    assert "Wie versprochen anbei: Artikel über Kalman-Filter" in draft.body
    assert "Mittwoch, 4. März, 10:30–11:00" in draft.body


def test_one_draft_names_everyone_it_goes_to() -> None:
    draft = first_touch(meeting(ME, JANE, BOB), JANE, BOB)
    assert draft.body.startswith("Hi Jane and Bob,\n")
    assert [a for _, a in draft.to] == [JANE.email, BOB.email]


@pytest.mark.parametrize("name", ["jane@x.com", "Acme Corp", None])
def test_unreliable_names_get_a_neutral_greeting(name: str | None) -> None:
    person = Attendee("john.smith@acme.com", name)
    body = first_touch(meeting(ME, person), person).body
    assert body.startswith("Hello,\n")


def test_non_latin_names_are_greeted_as_written() -> None:
    taro = Attendee("taro@example.jp", "山田太郎")
    body = first_touch(meeting(ME, taro), taro).body
    assert body.startswith("Hi 山田太郎,\n")


def test_a_title_with_line_breaks_never_reaches_the_subject() -> None:
    m = meeting(ME, JANE, title="Intro\r\nBcc: evil@example.com\n\tcall", description="")
    draft = first_touch(m)
    assert "\n" not in draft.subject and "Bcc" not in draft.subject
    assert "evil" not in draft.body


def test_a_user_template_overrides_the_shipped_one(tmp_path: Path) -> None:
    (tmp_path / "first_touch.txt.j2").write_text(
        "Hi {{ greeting_names | join(' and ') or 'there' }}! {{ occasion.subject }}.\n",
        encoding="utf-8",
    )
    composer = Composer(USER, tmp_path)
    assert first_touch(composer=composer).body == "Hi Jane! Thanks for the call.\n"
    # Templates the user did not override still come from the package.
    state = _state()
    assert "[[ Share one useful thing" in composer.nurture(state, key=KEY, tz=BERLIN).body


def test_the_notes_are_not_even_offered_to_a_user_template(tmp_path: Path) -> None:
    (tmp_path / "first_touch.txt.j2").write_text("{{ notes }}\n", encoding="utf-8")
    with pytest.raises(TemplateProblem, match="notes"):
        first_touch(composer=Composer(USER, tmp_path))


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
    assert draft.body.startswith("Hi Jane,\n")
    # Nothing known to give: a visible placeholder, and no raw calendar title anywhere.
    assert "[[ Share one useful thing" in draft.body
    assert "Benchmark chat" not in draft.body
    assert draft.subject == "Catching up"
    for pitch in ("price", "offer", "discount", "brochure"):
        assert pitch not in draft.body.lower()


def test_first_touch_block_carries_the_notes_promises_offers_and_links() -> None:
    m = meeting(ME, JANE, BOB, title="[EXT] Benchmark chat", description=NOTES,
                location="Café Einstein")
    item = BlockItem(
        meeting=m,
        material=read_material(NOTES),
        drafts=(BlockDraft(KEY, ("Jane Doe, Acme Corp <jane.doe@acme-corp.com>",),
                           "The Q3 benchmark article"),),
        promises=read_material(NOTES).promises,
        offered=("Wednesday 4 March, 10:30–11:00",),
        others=("Bob Roe, Roe Industries",),
    )
    block = Composer(USER).first_touch_block(
        [item],
        start=local(2026, 3, 3, 11, 10),
        end=local(2026, 3, 3, 11, 25),
        conflict=False,
        where_drafts_are="your Gmail Drafts folder",
        tz=BERLIN,
    )
    text = block.description
    assert block.summary == "Send follow-up to Jane Doe, Acme Corp"
    assert block.draft_keys == (KEY,)
    assert f"[draft {KEY}]" in text  # the engine puts the link in when it writes the block
    assert "Seemed skeptical about our pricing" in text  # the notes are the user's own
    assert "- [ ] send the Q3 benchmark article" in text
    assert "- Wednesday 4 March, 10:30–11:00" in text
    assert "Also there: Bob Roe, Roe Industries" in text
    assert "your Gmail Drafts folder" in text
    assert "overlaps" not in text


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
    assert "== Jane Doe, Acme Corp <jane.doe@acme-corp.com> ==" in block.description
    assert "Expo" in block.description
    assert "overlaps something else" in block.description
    assert block.conflict


def test_contact_note_names_the_meeting_date_and_place() -> None:
    m = meeting(ME, JANE, conference_url="https://meet.google.com/abc-defg-hij")
    assert contact_note(m, BERLIN) == "Met at Benchmark chat, 3 March 2026 (video call)"
    assert contact_note(meeting(ME, JANE), BERLIN) == "Met at Benchmark chat, 3 March 2026"


def test_contact_note_keeps_the_private_notes_on_the_users_own_card() -> None:
    note_text = contact_note(meeting(ME, JANE), BERLIN, notes="Seemed bored.\nSend deck")
    assert note_text == "Met at Benchmark chat, 3 March 2026. Notes: Seemed bored. Send deck"


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
    assert msg["Subject"] == "Good to meet you over coffee"
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


def test_a_late_block_says_in_words_why_it_is_after_the_deadline() -> None:
    m = meeting(ME, JANE, description=NOTES)
    item = BlockItem(meeting=m, material=read_material(NOTES),
                     drafts=(BlockDraft(KEY, ("Jane Doe <jane.doe@acme-corp.com>",), "Hi"),),
                     promises=(), offered=(), others=())
    block = Composer(USER).first_touch_block(
        [item], start=local(2026, 3, 9, 9), end=local(2026, 3, 9, 9, 15), conflict=False,
        where_drafts_are="your Drafts folder", tz=BERLIN, late=True)
    assert "No working time was left before the follow-up deadline" in block.description

"""Triage and the composer agree on what an address is (issue: a zero-width space made a card
for the user, an internationalised address got a card but never a draft, a NUL in a CN made
the attendee vanish without a reason)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from followup.core.mime import render_mime
from followup.core.triage import INVALID_EMAIL, SELF, triage
from followup.ical.parse import parse_calendar
from followup.model import Attendee, DraftPayload, Interval, PartStat

from .factories import ME, RULES, USER, meeting

WINDOW = Interval(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))


def judged(*people: Attendee) -> tuple[list[str], dict[str, str]]:
    result = triage(meeting(ME, *people), USER, RULES, self_addresses=[],
                    known_series_members=None)
    return [p.email for p in result.new_people], {s.email: s.code for s in result.skips}


@pytest.mark.parametrize("disguised", [
    "ada@lovelace.dev\u200b", "\u2060ada@lovelace.dev", "mailto:ada@lovelace.dev?subject=hi",
    "MAILTO:Ada@Lovelace.DEV", "ada@lovelace.dev?cc=x@evil.example",
])
def test_the_users_own_address_in_disguise_is_still_the_user(disguised: str) -> None:
    new, skips = judged(Attendee(disguised, "Ada", PartStat.ACCEPTED))
    assert new == []
    assert SELF in skips.values()


def test_an_internationalised_domain_is_written_in_its_ascii_form_and_drafts_work() -> None:
    new, _ = judged(Attendee("jürgen@bücher.de".replace("jürgen", "juergen"), "Jürgen"))
    assert new == ["juergen@xn--bcher-kva.de"]
    draft = DraftPayload(to=(("Jürgen", new[0]),), subject="Hi", body="Hello\n",
                         message_id="<k@followup.invalid>")
    assert b"juergen@xn--bcher-kva.de" in render_mime(draft, date=datetime(2026, 3, 3, tzinfo=UTC))


def test_an_address_no_draft_can_reach_gets_no_card_either_and_says_why() -> None:
    new, skips = judged(Attendee("jürgen@example.de", "Jürgen"))
    assert new == []
    assert skips["jürgen@example.de"] == INVALID_EMAIL


def test_a_nul_in_a_name_does_not_make_the_attendee_vanish() -> None:
    ics = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:u1\r\n"
        b"DTSTART:20260303T100000Z\r\nDTEND:20260303T110000Z\r\nSUMMARY:Pilot\x00 review\r\n"
        b"ORGANIZER:mailto:ada@lovelace.dev\r\nATTENDEE;CN=Bob\x00Evil:mailto:bob@x.com\r\n"
        b"END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    parsed = parse_calendar(ics, source="t", window=WINDOW, default_tz=UTC)
    (m,) = parsed.meetings
    assert [a.email for a in m.attendees] == ["bob@x.com"]
    assert "\x00" not in m.title and "\x00" not in (m.attendees[0].name or "")

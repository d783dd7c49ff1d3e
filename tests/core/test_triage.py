"""PLAYBOOK §5, rule by rule: who on an invite is a new contact."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from followup.config import TriageConfig, UserConfig
from followup.core.triage import Triage, series_members, triage
from followup.model import Attendee, CUType, Meeting, MeetingStatus, PartStat

from .factories import BOB, JANE, ME, RULES, USER, local, meeting


def run(
    m: Meeting,
    *,
    user: UserConfig = USER,
    rules: TriageConfig = RULES,
    self_addresses: tuple[str, ...] = (),
    known: frozenset[str] | None = None,
) -> Triage:
    return triage(m, user, rules, self_addresses=self_addresses, known_series_members=known)


def codes(result: Triage) -> dict[str, str]:
    return {s.email: s.code for s in result.skips}


def new_emails(result: Triage) -> list[str]:
    return [p.email for p in result.new_people]


def test_an_external_guest_is_new_and_the_user_is_not() -> None:
    result = run(meeting(ME, JANE))
    assert new_emails(result) == ["jane.doe@acme-corp.com"]
    assert codes(result) == {"ada@lovelace.dev": "self"}
    assert all(s.reason.endswith(".") for s in result.skips)


@pytest.mark.parametrize(
    ("status", "attendees", "extra", "code"),
    [
        (MeetingStatus.CANCELLED, (ME, JANE), {}, "cancelled"),
        (
            MeetingStatus.CONFIRMED,
            (dataclasses.replace(ME, partstat=PartStat.DECLINED), JANE),
            {},
            "user_declined",
        ),
        (MeetingStatus.CONFIRMED, (ME, JANE), {"all_day": True}, "all_day"),
        (MeetingStatus.CONFIRMED, (ME, JANE), {"attendees_omitted": True}, "large"),
    ],
)
def test_meeting_level_skips(
    status: MeetingStatus, attendees: tuple[Attendee, ...], extra: dict[str, bool], code: str
) -> None:
    result = run(meeting(*attendees, status=status, **extra))
    assert result.new_people == []
    assert [(s.email, s.code) for s in result.skips] == [("", code)]


def test_the_user_declining_is_recognised_by_the_sources_self_flag() -> None:
    me_by_flag = Attendee("ada@other-alias.example", partstat=PartStat.DECLINED, is_self=True)
    assert codes(run(meeting(me_by_flag, JANE))) == {"": "user_declined"}


def test_all_day_events_count_when_the_user_says_so() -> None:
    result = run(meeting(ME, JANE, all_day=True), rules=TriageConfig(skip_all_day=False))
    assert new_emails(result) == [JANE.email]


def test_more_than_max_attendees_is_a_large_meeting_and_the_limit_itself_is_not() -> None:
    guests = [Attendee(f"guest{i}@example.org", f"Guest {i}") for i in range(9)]
    at_limit = run(meeting(ME, *guests))  # 10 people including the user
    assert len(at_limit.new_people) == 9
    over = run(meeting(ME, *guests, JANE))
    assert codes(over) == {"": "large"}
    assert "11 attendees" in over.skips[0].reason


def test_five_thousand_attendees_do_not_take_long_or_crash() -> None:
    crowd = [Attendee(f"p{i}@example.org") for i in range(5000)]
    result = run(meeting(ME, *crowd))
    assert codes(result) == {"": "large"}


@pytest.mark.parametrize(
    ("person", "code"),
    [
        (Attendee("ada+events@lovelace.dev"), "self"),
        (Attendee("ADA.LOVELACE@GMAIL.COM"), "self"),
        (Attendee("someone@else.example", is_self=True), "self"),
        (Attendee("grace@lovelace.dev", "Grace"), "internal"),
        (Attendee("grace@eu.lovelace.dev", "Grace"), "internal"),
        (Attendee("board-room@acme.com", cutype=CUType.ROOM), "resource"),
        (Attendee("projector@acme.com", cutype=CUType.RESOURCE), "resource"),
        (Attendee("c_1888abc@resource.calendar.google.com", "Room 4"), "resource"),
        (Attendee("everyone@acme.com", cutype=CUType.GROUP), "group"),
        (Attendee("sales-team@acme.com"), "group"),
        (Attendee("dev.list@acme.com"), "group"),
        (Attendee("no-reply@acme.com"), "machine"),
        (Attendee("noreply@acme.com"), "machine"),
        (Attendee("no_reply@acme.com"), "machine"),
        (Attendee("notifications+abc@github.com"), "machine"),
        (Attendee("calendar-notification@google.com"), "machine"),
        (Attendee("mailer-daemon@acme.com"), "machine"),
        (Attendee("tom@acme.com", partstat=PartStat.DECLINED), "declined"),
        (Attendee("not-an-address"), "invalid_email"),
        (Attendee("", "Nameless"), "invalid_email"),
        (Attendee("two@@ats.com"), "invalid_email"),
        (Attendee("jane doe@acme.com"), "invalid_email"),
        (Attendee("jane@localhost"), "invalid_email"),
        (Attendee("jane@acme.com\r\nBcc: x@y.com"), "invalid_email"),
    ],
)
def test_person_level_skips(person: Attendee, code: str) -> None:
    result = run(meeting(ME, person))
    skipped = [s for s in result.skips if s.email != ME.email]
    assert [s.code for s in skipped] == [code]
    assert result.new_people == []
    assert skipped[0].reason  # one human sentence


@pytest.mark.parametrize(
    "address", ["alice@acme.com", "allison@acme.com", "infosec.lead@acme.com", "listo@acme.com"]
)
def test_machine_and_list_words_match_whole_words_only(address: str) -> None:
    assert new_emails(run(meeting(ME, Attendee(address)))) == [address]


def test_explicit_skip_addresses_and_extra_self_addresses() -> None:
    rules = TriageConfig(skip_addresses=["Jane.Doe@Acme-Corp.com"])
    assert codes(run(meeting(ME, JANE, BOB), rules=rules))[JANE.email] == "skip_address"
    from_account = run(meeting(ME, BOB), self_addresses=["bob@roe-industries.com"])
    assert codes(from_account)[BOB.email] == "self"


def test_duplicates_are_reported_once_and_the_person_kept_once() -> None:
    dup = Attendee("Jane.Doe@acme-corp.com", "Jane")
    plus = Attendee("jane.doe+conf@acme-corp.com", "Jane D.")
    result = run(meeting(ME, JANE, dup, plus))
    assert new_emails(result) == [JANE.email]
    assert [s.code for s in result.skips if s.code == "duplicate"] == ["duplicate", "duplicate"]


def test_emails_come_out_lower_cased_without_mailto() -> None:
    result = run(meeting(ME, Attendee("MAILTO:Jane@Acme.COM", "Jane")))
    assert new_emails(result) == ["jane@acme.com"]


def test_an_organizer_missing_from_the_attendee_list_is_a_candidate() -> None:
    host = Attendee("host@partner.example", "Hank Host")
    result = run(meeting(ME, organizer=host))
    assert new_emails(result) == ["host@partner.example"]


def _series(occurrence_offset_days: int, *people: Attendee) -> Meeting:
    first = local(2026, 3, 2, 10)
    start = first + timedelta(days=occurrence_offset_days)
    return meeting(*people, start=start, uid="weekly@x", recurrence_id=start, series_start=first)


def test_first_occurrence_of_a_series_makes_everyone_new() -> None:
    assert new_emails(run(_series(0, ME, JANE, BOB))) == [JANE.email, BOB.email]


def test_later_occurrence_only_newcomers_are_new() -> None:
    known = frozenset({ME.email, JANE.email})
    result = run(_series(7, ME, JANE, BOB), known=known)
    assert new_emails(result) == [BOB.email]
    assert codes(result)[JANE.email] == "recurring_known"


def test_later_occurrence_of_a_series_new_to_the_ledger_has_nobody_new() -> None:
    result = run(_series(14, ME, JANE, BOB), known=None)
    assert result.new_people == []
    assert codes(result) == {
        ME.email: "self",
        JANE.email: "recurring_seen",
        BOB.email: "recurring_seen",
    }


def test_series_members_lists_everyone_for_the_ledger() -> None:
    host = Attendee("Host@Partner.example")
    m = meeting(ME, JANE, organizer=host)
    assert series_members(m) == {ME.email, JANE.email, "host@partner.example"}


# --- only the user's own meetings (issue 12) ------------------------------------------------

HOST = Attendee("host@partner.example", "Hank Host", PartStat.ACCEPTED, is_organizer=True)


def test_a_forwarded_invitation_the_user_is_not_on_is_skipped() -> None:
    result = run(meeting(JANE, BOB, organizer=HOST))
    assert result.new_people == []
    assert [(s.email, s.code) for s in result.skips] == [("", "not_attending")]
    assert result.skips[0].reason.endswith(".")


def test_attendees_without_an_organiser_and_without_the_user_is_skipped() -> None:
    assert codes(run(meeting(JANE, BOB))) == {"": "not_attending"}


def test_an_event_with_nobody_on_it_is_the_users_own_note() -> None:
    start = local(2026, 3, 3, 10)
    note = Meeting(uid="hallway", start=start, end=start + timedelta(minutes=15),
                   title="Chat with Jane in the hallway")
    result = run(note)
    assert result == Triage([], [])


@pytest.mark.parametrize(
    ("people", "organizer", "self_addresses"),
    [
        ((JANE,), dataclasses.replace(ME, is_organizer=True), ()),  # the user organises
        ((JANE,), Attendee("ada@other.example", is_organizer=True, is_self=True), ()),
        ((JANE, Attendee("ada@other.example", is_self=True)), HOST, ()),  # Google's self flag
        ((JANE, Attendee("ada@work.example")), HOST, ("ada@work.example",)),  # account address
        ((JANE, Attendee("ADA+team@Lovelace.dev", partstat=PartStat.TENTATIVE)), HOST, ()),
    ],
)
def test_the_users_own_meetings_are_kept(
    people: tuple[Attendee, ...], organizer: Attendee, self_addresses: tuple[str, ...]
) -> None:
    result = run(meeting(*people, organizer=organizer), self_addresses=self_addresses)
    assert "not_attending" not in codes(result).values()
    assert JANE.email in new_emails(result)


def test_the_user_declining_is_one_reason_not_two() -> None:
    declined = dataclasses.replace(ME, partstat=PartStat.DECLINED, is_organizer=False)
    assert codes(run(meeting(declined, JANE, organizer=HOST))) == {"": "user_declined"}

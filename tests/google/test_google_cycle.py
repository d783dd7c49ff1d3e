"""End to end: engine cycles against the fake Google turn a meeting into one contact, one
draft and one block per new person, also with faults; and what a cycle costs in requests."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fake_google import FakeGoogle
from google_cycles import PEOPLE, T0, Cycles
from google_env import account_config

from followup.config import Config
from followup.ledger import Ledger, WriteState


def assert_one_of_each(fake: FakeGoogle, people: list[tuple[str, str]] = PEOPLE) -> None:
    emails = sorted(a for a, _ in people)
    contacts = sorted(e["value"] for p in fake.people.values()
                      for e in p["emailAddresses"])
    drafts = sorted(str(fake.messages[mid]["parsed"]["To"]).split("<")[-1].rstrip(">")
                    for mid in fake.drafts.values())
    blocks = [e for e in fake.live_events("primary")
              if "followupKey" in e.get("extendedProperties", {}).get("private", {})]
    assert contacts == emails
    assert drafts == emails
    # One block for the meeting, linking each draft by its Message-ID (a Gmail search that
    # finds the draft even after the user edits it).
    assert len(blocks) == 1
    description = blocks[0].get("description", "")
    for mid in fake.drafts.values():
        message_id = str(fake.messages[mid]["parsed"]["Message-ID"]).strip("<>")
        link = "https://mail.google.com/mail/u/0/#search/rfc822msgid%3A" + message_id.replace(
            "@", "%40")
        assert link in description
    assert not [m for m in fake.messages.values() if "SENT" in m["labelIds"]]


def test_a_meeting_becomes_one_contact_and_draft_per_person_and_one_block(cycles: Cycles) -> None:
    cycles.meeting(T0)
    cycles.until_settled(T0 + timedelta(hours=2))
    assert_one_of_each(cycles.fake)
    assert {r.state for r in cycles.ledger.writes("work")} == {WriteState.DONE}
    cycles.run(T0 + timedelta(hours=3))  # again: nothing changes
    assert_one_of_each(cycles.fake)


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_with_random_faults_still_exactly_once(cycles: Cycles, seed: int) -> None:
    cycles.fake.random_faults(0.2, seed=seed)
    cycles.meeting(T0)
    cycles.until_settled(T0 + timedelta(hours=2))
    assert_one_of_each(cycles.fake)
    faults = [s for _, s in cycles.fake.log if s in (429, 403, 500, 503, "dropped",
                                                     "applied-dropped")]
    assert faults  # the seed did inject some


def test_writes_applied_with_their_answer_lost_are_not_doubled(cycles: Cycles) -> None:
    for method in ("people.people.createContact", "gmail.users.drafts.create",
                   "calendar.events.insert"):
        cycles.fake.drop_next(method, after_apply=True, times=2)
    cycles.meeting(T0)
    cycles.until_settled(T0 + timedelta(hours=2))
    assert_one_of_each(cycles.fake)
    # Two contacts, two drafts and the meeting's one block: each applied, its answer lost.
    assert len(cycles.fake.applied_then_dropped) == 5


def test_requests_per_cycle(fake: FakeGoogle, config: Config, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    """The figures for the report: an idle cycle, and a new meeting with k new people.

    With the default settings: invitation mails are looked for every 30 minutes."""
    cfg = account_config(fake, invitations_every_minutes=30)
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'figures.sqlite3'}")
    cycles = Cycles(fake, cfg, config, ledger)
    now = T0 + timedelta(hours=2)
    first, _ = cycles.requests(now)  # the first sync (empty calendar and inbox)
    idle, report = cycles.requests(now + timedelta(minutes=5))
    assert report.meetings_synced == 0
    assert idle == 1  # events.list on the one watched calendar, nothing else
    idle_with_mail_check, _ = cycles.requests(now + timedelta(minutes=31))
    assert idle_with_mail_check == 2  # + Gmail getProfile: nothing new, no search
    figures = {"first (empty)": first, "idle": idle, "idle, mail check due": 2}
    t = now + timedelta(days=1)
    for k in (1, 3, 6):
        people = [(f"p{k}-{i}@partner{i}.example", f"Person {i}") for i in range(k)]
        cycles.meeting(t - timedelta(hours=2), people)
        n, report = cycles.requests(t)
        assert report.meetings_processed == 1  # our own blocks are not meetings
        figures[f"new meeting, k={k}"] = n
        t += timedelta(days=1)
    settle, _ = cycles.requests(t)
    idle_again, _ = cycles.requests(t + timedelta(minutes=5))
    figures["after writing"] = settle
    figures["idle again"] = idle_again
    with capsys.disabled():
        print(f"\nGoogle requests per cycle: {figures}")
    ledger.close()
    assert idle_again == 1
    # Per new person: warm-up + search + create (contact), create (draft), insert (block).
    # Per new person: the address-book look-up, the contact (search, create) and the draft
    # (create, and the rfc822msgid check); one warm-up per batch of look-ups.
    assert figures["new meeting, k=6"] - figures["new meeting, k=3"] == 3 * 6


def test_two_people_of_one_company_get_one_draft_to_both(cycles: Cycles) -> None:
    colleagues = [("jane@acme.example", "Jane Doe"), ("ann@acme.example", "Ann Lee")]
    cycles.meeting(T0, colleagues)
    cycles.until_settled(T0 + timedelta(hours=2))
    (mid,) = cycles.fake.drafts.values()
    parsed = cycles.fake.messages[mid]["parsed"]
    assert [a.addr_spec for a in parsed["To"].addresses] == [a for a, _ in colleagues]
    assert "Cc" not in parsed and "Bcc" not in parsed
    body = parsed.get_body(("plain",)).get_content()
    assert body.startswith("Hi Jane and Ann,")
    assert "We talked about the pilot." not in body  # the notes stay on the block


def test_a_card_in_the_users_contacts_gives_the_greeting_and_no_good_to_meet_you(
    cycles: Cycles,
) -> None:
    cycles.fake.add_contact("klaus@weber.example", "Klaus Weber",
                            names=[{"displayName": "Klaus Weber", "givenName": "Klaus"}])
    cycles.meeting(T0, [("klaus@weber.example", "WEBER, KLAUS")])
    cycles.until_settled(T0 + timedelta(hours=2))
    (mid,) = cycles.fake.drafts.values()
    body = cycles.fake.messages[mid]["parsed"].get_body(("plain",)).get_content()
    body = body.replace("\r\n", "\n")
    assert body.startswith("Hi Klaus,")
    assert "meet" not in body.split("\n\n")[1].lower()

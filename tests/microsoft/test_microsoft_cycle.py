"""End to end: engine cycles against the fake Graph turn a meeting into one contact, one draft
and one block per new person, also with faults; and what a cycle costs in requests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from followup.config import Config, UserConfig
from followup.core.compose import Composer
from followup.engine.cycle import CycleReport, run_cycle
from followup.ledger import Ledger, WriteState
from followup.protocols import Account

from .conftest import MsWorld

ME = "me@contoso.example"
T0 = datetime(2025, 3, 10, 10, 0, tzinfo=UTC)  # a Monday; the meeting ends at 11:00
PEOPLE = [("jane@acme.example", "Jane Doe"), ("bob@globex.example", "Bob Roe")]


class Cycles:
    def __init__(self, ms: MsWorld, ledger: Ledger) -> None:
        self.ms = ms
        self.ledger = ledger
        self.config: Config = ms.config.model_copy(update={"user": UserConfig(
            name="Me Myself", addresses=[ME], domains=["contoso.example"], timezone="UTC")})
        ms.config = self.config
        ms.connect()
        self.account: Account = ms.open()
        self.composer = Composer(self.config.user)

    def run(self, now: datetime) -> CycleReport:
        self.ms.now = now
        return run_cycle(self.config, self.ledger, self.account, self.composer, now)

    def routes(self, now: datetime) -> dict[str, int]:
        """What one cycle at `now` asked Graph, by route ($batch items counted each)."""
        before = self.ms.graph.routes.copy()
        self.run(now)
        return {k: v for k, v in (self.ms.graph.routes - before).items() if v}

    def requests(self, now: datetime) -> tuple[int, CycleReport]:
        before = len(self.ms.graph.log)
        report = self.run(now)
        return len(self.ms.graph.log) - before, report

    def meeting(self, uid: str, start: datetime,
                people: list[tuple[str, str]] = PEOPLE) -> None:
        self.ms.graph.add_event(
            "Pilot review", start, 60, uid=uid, notes="We talked about the pilot.",
            attendees=[(a, n, "required", "accepted") for a, n in people])

    def until_settled(self, start: datetime, cycles: int = 30) -> datetime:
        now = start
        for _ in range(cycles):
            self.run(now)
            if not self.ledger.writes("work", states=[WriteState.PENDING]):
                return now
            now += timedelta(hours=1)
        raise AssertionError("writes still pending")


@pytest.fixture
def cycles(ms: MsWorld, tmp_path: Path) -> Iterator[Cycles]:
    with Ledger.open(f"sqlite:///{tmp_path / 'ledger.sqlite3'}") as ledger:
        yield Cycles(ms, ledger)


def assert_one_of_each(ms: MsWorld, people: list[tuple[str, str]] = PEOPLE) -> None:
    emails = sorted(a for a, _ in people)
    contacts = sorted(e["address"] for c in ms.graph.contacts.values()
                      for e in c["emailAddresses"])
    drafts = sorted(r["emailAddress"]["address"] for d in ms.graph.drafts()
                    for r in d["toRecipients"])
    assert contacts == emails
    assert drafts == emails
    # One block for the meeting, with each draft's Outlook webLink in its body.
    (block,) = ms.graph.blocks()
    for draft in ms.graph.drafts():
        assert draft["webLink"] in block["body"]["content"]
    assert not ms.graph.sent_anything()


def test_a_meeting_becomes_one_contact_and_draft_per_person_and_one_block(cycles: Cycles) -> None:
    cycles.meeting("pilot@x", T0)
    cycles.until_settled(T0 + timedelta(hours=2))
    assert_one_of_each(cycles.ms)
    rows = cycles.ledger.writes("work")
    assert {r.state for r in rows} == {WriteState.DONE}
    # Running again changes nothing.
    cycles.run(T0 + timedelta(hours=3))
    assert_one_of_each(cycles.ms)


def test_with_random_faults_still_exactly_once(cycles: Cycles) -> None:
    cycles.ms.graph.random_faults(0.2, seed=7)
    cycles.meeting("pilot@x", T0)
    cycles.until_settled(T0 + timedelta(hours=2))
    assert_one_of_each(cycles.ms)
    assert sum(cycles.ms.graph.injected.values()) > 0


def test_writes_applied_with_their_answer_lost_are_not_doubled(cycles: Cycles) -> None:
    for pattern in ("/me/contacts$", "/me/messages$", "/me/events$"):
        cycles.ms.graph.fail("POST", pattern, "lost", times=2)
    cycles.meeting("pilot@x", T0)
    cycles.until_settled(T0 + timedelta(hours=2))
    assert_one_of_each(cycles.ms)
    # Two contacts, two drafts and the meeting's one block, each POST answer lost twice
    # but the block's: its second POST is a lookup by transactionId's property first.
    assert cycles.ms.graph.injected["lost"] in (5, 6)


def test_requests_per_cycle(cycles: Cycles, capsys: pytest.CaptureFixture[str]) -> None:
    """The figures for the report: an idle cycle, and a new meeting with k new people."""
    now = T0 + timedelta(hours=2)
    first, _ = cycles.requests(now)  # the first sync (empty calendar and inbox)
    idle, report = cycles.requests(now + timedelta(minutes=5))
    assert report.meetings_synced == 0
    assert idle == 1  # calendarView delta; the Inbox waits for mail_every_minutes
    idle_with_mail_check, _ = cycles.requests(now + timedelta(minutes=31))
    assert idle_with_mail_check == 2  # + the Inbox listing
    figures = {"first (empty)": first, "idle": idle, "idle, mail check due": 2}
    t = now + timedelta(days=1)
    for k in (1, 3, 6):
        people = [(f"p{k}-{i}@partner{i}.example", f"Person {i}") for i in range(k)]
        cycles.meeting(f"m{k}@x", t - timedelta(hours=2), people)
        n, report = cycles.requests(t)
        assert report.meetings_processed == 1  # our own blocks are not meetings
        figures[f"new meeting, k={k}"] = n
        t += timedelta(days=1)
    with capsys.disabled():
        print(f"\nGraph requests per cycle: {figures}")
    # Linear in k, a handful of requests per person (lookup + create for each write).
    assert figures["new meeting, k=6"] - figures["new meeting, k=3"] <= 3 * 6


def test_an_idle_cycle_is_one_delta_request_and_the_inbox_comes_back_after_30_minutes(
    cycles: Cycles,
) -> None:
    now = T0 + timedelta(hours=2)
    cycles.run(now)  # the first sync: calendar and Inbox
    assert cycles.routes(now + timedelta(minutes=5)) == {"calendarView.delta": 1}
    assert cycles.routes(now + timedelta(minutes=29)) == {"calendarView.delta": 1}
    assert cycles.routes(now + timedelta(minutes=31)) == {
        "calendarView.delta": 1, "messages.inbox": 1}
    assert cycles.routes(now + timedelta(minutes=36)) == {"calendarView.delta": 1}


def test_a_new_process_looks_at_the_inbox_on_the_same_schedule(cycles: Cycles) -> None:
    """The time of the last look is in the cursor: a timer-driven `run --once` keeps it."""
    now = T0 + timedelta(hours=2)
    cycles.run(now)
    cycles.account = cycles.ms.open()
    assert cycles.routes(now + timedelta(minutes=5)) == {"calendarView.delta": 1}


def test_mail_history_is_asked_when_a_meeting_ends_between_inbox_looks(
    cycles: Cycles,
) -> None:
    now = T0 + timedelta(hours=2)
    cycles.run(now)
    cycles.meeting("pilot@x", now - timedelta(hours=1, minutes=30))  # ended 30 minutes ago
    asked = cycles.routes(now + timedelta(minutes=5))
    assert "messages.inbox" not in asked  # the Inbox look is not due yet
    # "Already in touch?": Sent Items and received mail, per new person, in one $batch.
    assert asked["messages.sent"] == len(PEOPLE)
    assert asked["messages.list"] == len(PEOPLE)
    cycles.until_settled(now + timedelta(minutes=10))
    assert_one_of_each(cycles.ms)


def test_two_people_of_one_company_get_one_draft_to_both(cycles: Cycles) -> None:
    colleagues = [("jane@acme.example", "Jane Doe"), ("ann@acme.example", "Ann Lee")]
    cycles.meeting("pilot@x", T0, colleagues)
    cycles.until_settled(T0 + timedelta(hours=2))
    (draft,) = cycles.ms.graph.drafts()
    assert [r["emailAddress"]["address"] for r in draft["toRecipients"]] == [
        a for a, _ in colleagues]
    assert draft["body"]["content"].startswith("Hi Jane and Ann,")
    assert "We talked about the pilot." not in draft["body"]["content"]
    (block,) = cycles.ms.graph.blocks()
    assert "We talked about the pilot." in block["body"]["content"]
    assert draft["webLink"] in block["body"]["content"]


def test_a_card_in_the_users_contacts_gives_the_greeting_and_no_good_to_meet_you(
    cycles: Cycles,
) -> None:
    cycles.ms.graph.add_contact("klaus@weber.example", "Klaus Weber", "")
    cycles.meeting("pilot@x", T0, [("klaus@weber.example", "WEBER, KLAUS")])
    cycles.until_settled(T0 + timedelta(hours=2))
    (draft,) = cycles.ms.graph.drafts()
    body = draft["body"]["content"]
    assert body.startswith("Hi Klaus,")
    assert "meet" not in body.split("\n\n")[1].lower()

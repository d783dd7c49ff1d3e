"""Four months of the real engine on local files with a scripted user (issue 10).

One run (module fixture) of `sim.simulate`: seven contacts, the user sending, deleting and
ignoring drafts, deleting a block, writing by hand, and contacts replying; a German user
(public holidays of DE) who is out of office on one Friday. Each test checks one rule of
PLAYBOOK §3–4 on what the user saw in their Drafts folder and calendar.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import holidays
import pytest

from followup.core.compose import Composer
from followup.core.planner import QUARTERLY_DAYS, nurture_due
from followup.core.state import PersonState
from followup.engine.cycle import plan
from followup.ledger import Ledger
from followup.people import people_command
from followup.report import print_cycle

from .sim import START, LocalMailbox, Run, contacts, simulate

MIN = timedelta(days=21)
OUT_OF_OFFICE = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # a Friday, the weekly day
BERLIN_HOLIDAYS = holidays.country_holidays("DE", years=[2026, 2027])
BY_KEY = {c.key: c for c in contacts()}


@dataclass
class Sim:
    box: LocalMailbox
    ledger: Ledger
    run: Run

    def state(self, key: str) -> PersonState:
        found = self.ledger.person("local", BY_KEY[key].person.email)
        assert found is not None
        return found

    def drafted(self, key: str) -> list[datetime]:
        return [at for at, _ in self.run.drafts.get(key, [])]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sim]:
    root: Path = tmp_path_factory.mktemp("cadence")
    box = LocalMailbox(root)
    with Ledger.open(box.config.ledger_url()) as ledger:
        run = simulate(box, ledger, box.config, busy_days=(OUT_OF_OFFICE,))
        yield Sim(box, ledger, run)


def met(key: str) -> datetime:
    return START + timedelta(days=BY_KEY[key].day)


def test_it_covers_four_months_with_sends_deletes_and_replies(sim: Sim) -> None:
    whats = {s.what for s in sim.run.timeline}
    assert {"sent", "deleted draft", "deleted block", "replied", "wrote by hand"} <= whats
    assert sim.run.last_cycle - START >= timedelta(days=120)


def test_a_deleted_first_draft_ends_the_sequence(sim: Sim) -> None:
    assert len(sim.drafted("candidate")) == 1
    state = sim.state("candidate")
    assert state.status == "ended" and "deleted the first draft" in state.reason
    assert nurture_due(state, sim.box.config.schedule) is None


def test_a_deleted_first_block_ends_the_sequence(sim: Sim) -> None:
    assert len(sim.drafted("vendor")) == 1
    state = sim.state("vendor")
    assert state.status == "ended" and "deleted the first follow-up block" in state.reason


def test_the_asked_for_timing_wins_and_batching_never_brings_a_touch_forward(sim: Sim) -> None:
    _, second, *_ = sim.drafted("investor")
    # "Ping me in 3 weeks": the second touch three weeks after the meeting, not before,
    # and within the week after (the next weekly batch).
    assert met("investor") + MIN <= second + timedelta(days=1)
    assert second <= met("investor") + MIN + timedelta(days=7)


def test_touches_are_never_closer_than_the_cadence_minimum(sim: Sim) -> None:
    for key in ("silent", "investor", "hand", "backfilled"):
        sent = [s.at for s in sim.run.of(key, "sent")]
        for earlier, later in itertools.pairwise(sent):
            assert later - earlier >= MIN - timedelta(days=1), (key, earlier, later)


def test_one_pending_touch_per_contact(sim: Sim) -> None:
    assert max(sim.run.most_open.values()) == 1


def test_a_reply_pauses_until_the_conversation_is_quiet_and_the_next_touch_replies(
    sim: Sim,
) -> None:
    (reply,) = sim.run.of("investor", "replied")
    after = [(at, d) for at, d in sim.run.drafts["investor"] if at > reply.at]
    assert after, "the cadence goes on after a quiet conversation"
    at, draft = after[0]
    assert at >= reply.at + MIN - timedelta(days=1)
    # In the thread of her reply, with its subject.
    assert draft.in_reply_to is not None and draft.in_reply_to.endswith("@parkcapital.example>")
    assert draft.subject == "Re: Good to meet you over coffee"


def test_mail_written_by_hand_pauses_the_cadence(sim: Sim) -> None:
    (hand,) = sim.run.of("hand", "wrote by hand")
    at, draft = next((at, d) for at, d in sim.run.drafts["hand"] if at > hand.at)
    assert at >= hand.at + MIN - timedelta(days=1)
    assert draft.subject == "Re: The mockups"  # the thread of the mail the user wrote


def test_unanswered_touches_slow_the_cadence_to_quarterly(sim: Sim) -> None:
    assert len(sim.drafted("silent")) == 3
    state = sim.state("silent")
    assert state.unanswered == 3 and "quarterly" in state.reason
    due = nurture_due(state, sim.box.config.schedule)
    assert due is not None and due - state.anchor == timedelta(days=QUARTERLY_DAYS)


def test_call_me_in_three_months_gives_a_call_reminder_not_a_draft(sim: Sim) -> None:
    assert len(sim.drafted("caller")) == 1  # the first note only
    calls = [b for _, b in sim.run.blocks if "Cody Brandt" in b.description
             and "Call them" in b.description]
    assert len(calls) == 1
    asked = met("caller") + timedelta(days=92)  # three months
    assert asked - timedelta(days=3) <= calls[0].start <= asked + timedelta(days=8)


def test_people_met_before_the_first_start_join_the_cadence_without_a_first_note(
    sim: Sim,
) -> None:
    drafts = sim.run.drafts["backfilled"]
    assert drafts and all("meet" not in d.subject.lower() for _, d in drafts)
    assert sim.state("backfilled").first_met < START


def test_no_block_on_a_public_holiday_or_a_day_out_of_office(sim: Sim) -> None:
    berlin = sim.box.config.user.tz
    days = {b.start.astimezone(berlin).date() for _, b in sim.run.blocks}
    assert not [d for d in days if d in BERLIN_HOLIDAYS]
    assert OUT_OF_OFFICE.date() not in days
    # Christmas Day 2026 is a Friday: that week's batch came on the Thursday before.
    assert datetime(2026, 12, 24).date() in days
    assert datetime(2026, 11, 19).date() in days  # and the week of the day away


def test_the_weekly_block_is_sized_to_its_batch(sim: Sim) -> None:
    schedule = sim.box.config.schedule
    for _, b in sim.run.blocks:
        if not b.summary.startswith(("Send ", "Make ", "Call ")) or "== " not in b.description:
            continue
        n = b.description.count("\n== ")
        minutes = (b.end - b.start) // timedelta(minutes=1)
        assert minutes == max(schedule.block_minutes,
                              min(schedule.weekly_block_minutes, n * schedule.minutes_per_draft))


def test_later_drafts_give_a_resource_that_fits(sim: Sim) -> None:
    _, second = sim.run.drafts["silent"][1]
    assert "https://analytical-engines.example/vector-bench" in second.body
    _, second = sim.run.drafts["investor"][1]
    assert "https://analytical-engines.example/seed-metrics" in second.body


def test_notes_never_reach_a_draft(sim: Sim) -> None:
    for c in contacts():
        for _, d in sim.run.drafts.get(c.key, []):
            for line in c.notes.split(". "):
                assert line.strip(".") not in d.body, (c.key, line)


def test_plan_and_people_say_why_a_sequence_ended(sim: Sim) -> None:
    now = START + timedelta(days=125)
    report = plan(sim.box.config, sim.ledger, sim.box.account,
                  Composer(sim.box.config.user), now)
    out = io.StringIO()
    print_cycle(report, tz=sim.box.config.user.tz, out=out)
    text = out.getvalue()
    assert "carla@mendes-mail.example: ended: You deleted the first draft" in text
    assert "victor@halesupply.example: ended: You deleted the first follow-up block" in text
    listing = io.StringIO()
    assert people_command(sim.box.config, action="list", email=None, account=None,
                          out=listing) == 0
    assert "carla@mendes-mail.example" in listing.getvalue()
    assert "ended" in listing.getvalue()

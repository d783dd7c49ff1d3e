"""First start: people met in the last `backfill_days` join the cadence without a first
note, `plan` shows them, and `status` lists sequences that ended."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from followup.core.compose import Composer
from followup.engine.cycle import plan, run_cycle
from followup.ledger import Ledger
from followup.report import print_cycle
from followup.service.status import collect

from .sim import START, LocalMailbox, contacts

OLGA = next(c for c in contacts() if c.key == "backfilled")  # met 40 days before the start
CARLA = next(c for c in contacts() if c.key == "candidate")


def test_plan_on_a_first_start_shows_the_people_it_enrols_and_writes_nothing(
    tmp_path: Path,
) -> None:
    box = LocalMailbox(tmp_path)
    start = START + timedelta(days=OLGA.day)
    box.add_meeting(OLGA, start, start + timedelta(hours=1))
    composer = Composer(box.config.user)
    with Ledger.open(box.config.ledger_url()) as ledger:
        report = plan(box.config, ledger, box.account, composer, START)
        out = io.StringIO()
        print_cycle(report, tz=box.config.user.tz, out=out)
        assert f"{OLGA.person.email}: active: Met " in out.getvalue()
        assert "before followup started" in out.getvalue()
        assert ledger.people(box.account.name) == []  # a dry run
        # The real first cycle enrols her: no first note (the meeting is 40 days old).
        run_cycle(box.config, ledger, box.account, composer, START)
        (olga,) = ledger.people(box.account.name)
        assert olga.email == OLGA.person.email and not olga.open_touch
        assert olga.notes == OLGA.notes
        assert not [r for r in ledger.writes(box.account.name) if r.touch == 0]
    assert box.drafts() == []


def test_status_lists_ended_sequences_with_their_reason(tmp_path: Path) -> None:
    box = LocalMailbox(tmp_path)
    start = START + timedelta(days=CARLA.day)
    box.add_meeting(CARLA, start, start + timedelta(hours=1))
    composer = Composer(box.config.user)
    with Ledger.open(box.config.ledger_url()) as ledger:
        now = start + timedelta(hours=2)
        run_cycle(box.config, ledger, box.account, composer, now)
        (draft,) = box.drafts()
        box.delete_draft(draft)
        for day in range(1, 36):  # daily, as the daemon wakes at least: found when due
            run_cycle(box.config, ledger, box.account, composer, now + timedelta(days=day))
    view = collect(tmp_path / "config.toml", box.config, now + timedelta(days=36))
    assert [(q["person"], q["state"]) for q in view.sequences] == [
        (CARLA.person.email, "ended")]
    assert "deleted the first draft" in view.sequences[0]["why"]

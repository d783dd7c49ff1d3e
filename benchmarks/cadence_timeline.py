"""The cadence over four months, as the user sees it: the timeline of three contacts.

    python benchmarks/cadence_timeline.py [--all]

Runs tests/cadence/sim.py: the real engine on local files (vdir calendar, Maildir, followups
vdir) from Monday 5 October 2026 for 124 days, as the daemon wakes, with the scripted user
(sends most drafts at the end of the working day, deletes one first draft and one first
block, writes once by hand; one contact answers). Prints, per day, what appeared in Drafts
and on the calendar and what the user and the contacts did, for the contact whose first
draft was deleted, the one who replied, and the one who never answers (--all: everyone),
then each person's state at the end.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import structlog

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.cadence.sim import LocalMailbox, contacts, simulate, timeline_text  # noqa: E402

from followup.ledger import Ledger  # noqa: E402

THREE = ["candidate", "investor", "silent"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="every contact of the script")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    keys = [c.key for c in contacts()] if args.all else THREE
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        box = LocalMailbox(Path(tmp))
        with Ledger.open(box.config.ledger_url()) as ledger:
            run = simulate(box, ledger, box.config,
                           busy_days=(datetime(2026, 11, 20, 8, 0, tzinfo=UTC),))
            print(timeline_text(run, keys))
            print()
            shown = {c.person.email: c.key for c in contacts() if c.key in keys}
            for p in ledger.people(box.account.name):
                if p.email in shown:
                    print(f"{shown[p.email]:<10} {p.status:<7} {p.touches} touches, "
                          f"{p.unanswered} unanswered in a row. {p.reason}")
    print(f"\n{run.cycles} cycles over {(run.last_cycle - run.timeline[0].at).days} days "
          f"in {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()

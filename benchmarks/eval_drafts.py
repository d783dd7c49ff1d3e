"""Print every draft and block the evaluation set (tests/eval) produces, for a person to read.

    .venv/bin/python benchmarks/eval_drafts.py [--blocks]

Runs the real engine on the memory provider with a temporary SQLite ledger, as the tests do.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import structlog

from eval.harness import body_words, evaluate
from followup.ledger import Ledger


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--blocks", action="store_true", help="print the blocks too")
    args = parser.parse_args()
    # Only the drafts on stdout: the engine's own log stays quiet below warnings.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory() as tmp, Ledger.open(f"sqlite:///{tmp}/l.db") as ledger:
        result = evaluate(ledger)
        for outcome in result.outcomes.values():
            case = outcome.case
            print(f"===== {case.id}: {case.title!r}")
            for skip in outcome.skips:
                print(f"  skip {skip.code} {skip.email}: {skip.reason}")
            for d in outcome.drafts:
                print(f"--- To: {', '.join(a for _, a in d.to)}  ({body_words(d)} words)")
                print(f"Subject: {d.subject}\n")
                print(d.body)
        if args.blocks:
            for b in sorted(result.blocks, key=lambda b: b.start):
                print(f"##### BLOCK {b.start:%a %d %b %H:%M}-{b.end:%H:%M} {b.summary}")
                print(b.description)


if __name__ == "__main__":
    main()

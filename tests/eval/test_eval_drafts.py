"""The evaluation set (cases.py) through the real engine: what a demanding reader checks in
every draft a month of meetings produces (PLAYBOOK §2). `benchmarks/eval_drafts.py` prints
the same drafts for a person to read."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from followup.ledger import Ledger, schema

from .cases import CASES, Case
from .harness import Evaluation, Outcome, body_words, evaluate

YEAR = re.compile(r"\b(19|20)\d\d\b")
# What conference tools paste into a description, and what separates their blocks.
BOILERPLATE = (
    "zoom.us", "meet.google.com", "teams.microsoft.com", "calendly.com", "riverside.fm",
    "Meeting ID", "Passcode", "Join Zoom", "Join the meeting", "Microsoft Teams", "Invitee",
    "Powered by", "Dial", "───", "____", "-::~", "Event Name", "studio",
)
TAGS = ("[EXT]", "Re:", "Fwd:", "<>", "#nofollowup", "#followup")


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Evaluation]:
    path = tmp_path_factory.mktemp("eval") / "ledger.sqlite3"
    with Ledger.open(f"sqlite:///{path}") as ledger:
        yield evaluate(ledger)


def outcomes(result: Evaluation) -> list[Outcome]:
    return list(result.outcomes.values())


def text_of(outcome: Outcome) -> list[str]:
    return [f"{d.subject}\n{d.body}" for d in outcome.drafts]


def test_the_set_is_large_and_varied_enough() -> None:
    assert len(CASES) >= 30
    languages = {c.language for c in CASES}
    assert languages == {"en", "de", "es", "fr"}
    assert sum(1 for c in CASES if c.private) >= 15
    assert sum(1 for c in CASES if c.tz != "Europe/Berlin") >= 3


def _mentions(text: str, phrase: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(phrase.lower())}(?!\w)", text.lower()) is not None


def test_no_private_note_reaches_its_draft(result: Evaluation) -> None:
    leaks = [
        (o.case.id, phrase)
        for o in outcomes(result)
        for text in text_of(o)
        for phrase in o.case.private
        if _mentions(text, phrase)
    ]
    assert leaks == []


def test_no_private_phrase_of_the_month_reaches_any_draft(result: Evaluation) -> None:
    # Phrases of two words or more are specific enough to look for everywhere.
    phrases = [p for c in CASES for p in c.private if " " in p]
    leaks = [(o.case.id, p) for o in outcomes(result) for text in text_of(o) for p in phrases
             if _mentions(text, p)]
    assert leaks == []


def test_the_private_notes_are_on_the_block_instead(result: Evaluation) -> None:
    blocks = "\n".join(b.description for b in result.blocks)
    for o in outcomes(result):
        if o.drafts and o.case.private and o.case.organizer is None:
            assert o.case.private[0] in blocks, o.case.id


def test_no_raw_title_tag_year_or_boilerplate_in_any_draft(result: Evaluation) -> None:
    for o in outcomes(result):
        for text in text_of(o):
            assert not YEAR.search(text), (o.case.id, YEAR.search(text))
            for junk in (*BOILERPLATE, *TAGS):
                assert junk not in text, (o.case.id, junk)
            if len(o.case.title) > 12:
                assert o.case.title not in text, o.case.id
            assert "\r" not in text


def test_the_person_is_never_told_the_meeting_was_with_themself(result: Evaluation) -> None:
    for o in outcomes(result):
        for d in o.drafts:
            first_line = d.body.splitlines()[2] if len(d.body.splitlines()) > 2 else ""
            for name, _ in o.case.people:
                surname = name.split()[-1] if " " in name else ""
                if surname and len(surname) > 3:
                    assert surname not in first_line, (o.case.id, first_line)


@pytest.mark.parametrize("case", [c for c in CASES if c.skip], ids=lambda c: c.id)
def test_meetings_that_are_not_networking_get_no_draft_and_say_why(
    result: Evaluation, case: Case
) -> None:
    outcome = result.outcomes[f"{case.id}@eval.example"]
    assert outcome.drafts == []
    assert case.skip in {s.code for s in outcome.skips if s.email == ""}


@pytest.mark.parametrize("case", [c for c in CASES if not c.skip], ids=lambda c: c.id)
def test_each_meeting_gets_the_draft_a_person_would_send(
    result: Evaluation, case: Case
) -> None:
    outcome = result.outcomes[f"{case.id}@eval.example"]
    assert len(outcome.drafts) == case.drafts, [s.code for s in outcome.skips]
    greetings = {"en": ("Hi ", "Hello,"), "de": ("Hallo ", "Guten Tag,"),
                 "es": ("Hola",), "fr": ("Bonjour",)}[case.language]
    for d in outcome.drafts:
        text = f"{d.subject}\n{d.body}"
        assert d.body.startswith(greetings), (case.id, d.body[:40])
        for wanted in case.contains:
            assert wanted in text, (case.id, wanted)
        if case.placeholder:
            assert "[[ " in d.body, case.id
        else:
            assert "[[ One line" not in d.body and "[[ Une phrase" not in d.body, case.id
        if case.both_zones:
            assert "your time (" in d.body, case.id
        else:
            assert "your time (" not in d.body, case.id
        if case.known or case.cards:
            opening = d.body.split("\n\n")[1]
            assert "meet" not in opening.lower(), (case.id, opening)
            assert "I run Lovelace Analytics" not in d.body, case.id
        assert body_words(d) <= 150, (case.id, body_words(d))
        recipients = {a for _, a in d.to}
        assert not recipients & set(case.skipped_people), case.id
        assert "\n" not in d.subject and len(d.subject) < 80


def test_no_slot_is_offered_to_more_than_two_open_drafts(result: Evaluation) -> None:
    offered: Counter[str] = Counter()
    for o in outcomes(result):
        for d in o.drafts:
            offered.update(line for line in d.body.splitlines() if line.startswith("- "))
    assert offered and max(offered.values()) <= 2


def test_no_two_blocks_overlap_and_none_sits_in_an_offered_slot(result: Evaluation) -> None:
    blocks = sorted(result.blocks, key=lambda b: b.start)
    for a, b in itertools.pairwise(blocks):
        assert a.end <= b.start, (a.summary, b.summary)
    # Read from the table itself, not through the ledger's own idea of a live offer: an offer
    # whose hold outlasts the block's start was held when the block was placed (earlier).
    t = schema.offers
    with result.ledger._engine.begin() as conn:
        offers = conn.execute(select(t.c.starts_at, t.c.ends_at, t.c.hold_until)).all()
    assert offers
    for block in blocks:
        held = [o for o in offers if o.hold_until > block.start]
        assert not any(block.start < o.ends_at and o.starts_at < block.end for o in held), (
            block.summary)


def test_a_conference_day_is_one_block_sized_to_its_drafts(result: Evaluation) -> None:
    # Three meetings on a Saturday at a fair: one block on Monday morning for all three.
    factory = [b for b in result.blocks if "FactoryTech" in b.summary]
    assert [b.summary for b in factory] == [
        "Send 3 follow-ups from FactoryTech, FactoryTech – Dinner"]
    (block,) = factory
    assert block.start.astimezone(ZoneInfo("Europe/Berlin")).strftime("%a %H:%M") < "Mon 12"
    assert (block.end - block.start).total_seconds() == 25 * 60
    assert "the OEE benchmark report" in block.description  # the promise, as a checklist
    assert "- [ ] " in block.description


def test_every_block_links_its_drafts(result: Evaluation) -> None:
    for block in result.blocks:
        assert "[draft " not in block.description
        assert "Draft: memory://drafts/" in block.description

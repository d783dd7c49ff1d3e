"""When and how a contact asked to hear back, read from the user's notes (core.asked)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from followup.core.asked import read_ask

BERLIN = ZoneInfo("Europe/Berlin")
MET = datetime(2026, 11, 10, 15, 0, tzinfo=UTC)  # a Tuesday afternoon


def day(notes: str) -> date | None:
    ask = read_ask(notes, base=MET, tz=BERLIN)
    return None if ask is None or ask.at is None else ask.at.astimezone(BERLIN).date()


@pytest.mark.parametrize(("notes", "expected"), [
    ("Great chat. Ping me in 3 weeks.", date(2026, 12, 1)),
    ("Wants to talk again after Q1", date(2027, 4, 1)),
    ("Reach out in Q3", date(2027, 7, 1)),
    ("Write to her in January", date(2027, 1, 10)),
    ("call me in three months", date(2027, 2, 10)),
    ("Ruf mich im März an", date(2027, 3, 10)),
    ("Llámame en enero", date(2027, 1, 10)),
])
def test_the_asked_day_is_read_in_several_languages(notes: str, expected: date) -> None:
    assert day(notes) == expected


@pytest.mark.parametrize(("notes", "channel"), [
    ("call me in three months", "call"),
    ("ruf mich im März an", "call"),
    ("Ping me in 3 weeks", "email"),
])
def test_call_me_asks_for_a_call(notes: str, channel: str) -> None:
    ask = read_ask(notes, base=MET, tz=BERLIN)
    assert ask is not None and ask.channel == channel


def test_a_call_without_a_time_keeps_the_default_cadence_but_asks_for_a_call() -> None:
    ask = read_ask("Prefers a call to mail.", base=MET, tz=BERLIN)
    assert ask is not None and ask.at is None and ask.channel == "call"


@pytest.mark.parametrize("notes", [
    "Met at 10am at the booth, nice chat",  # a time that is not a request
    "She runs the ML team since March",  # a date that is not a request
    "Don't call me before March",  # a negation: left to the user
    "Email is best",  # a channel that is the default, no time
    "",
])
def test_notes_that_ask_for_nothing_change_nothing(notes: str) -> None:
    assert day(notes) is None


def test_a_day_in_the_past_is_not_an_ask() -> None:
    assert read_ask("Talked about what happened in January", base=MET, tz=BERLIN) is None

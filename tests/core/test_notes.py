"""The user's notes survive; the video-call boilerplate products append does not.

The boilerplate samples in data/ are written the way Zoom, Google Calendar, Microsoft Teams
and Webex produce them (numbers, ids and links made up).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from followup.core.notes import html_to_text, user_notes

NOTES = "Jane wants the Q3 benchmark article.\nIntro her to Bob (CTO at Roe)."

DATA = Path(__file__).parent / "data"
ZOOM, GOOGLE_MEET, TEAMS, TEAMS_HTML, WEBEX = (
    (DATA / name).read_text(encoding="utf-8")
    for name in ("zoom.txt", "google_meet.txt", "teams.txt", "teams.html", "webex.txt")
)

IDS = ["zoom", "google-meet", "teams", "webex"]


@pytest.mark.parametrize("boilerplate", [ZOOM, GOOGLE_MEET, TEAMS, WEBEX], ids=IDS)
def test_notes_before_the_boilerplate_are_kept_alone(boilerplate: str) -> None:
    assert user_notes(NOTES + "\n\n" + boilerplate) == NOTES


@pytest.mark.parametrize("boilerplate", [ZOOM, GOOGLE_MEET, TEAMS, WEBEX], ids=IDS)
def test_notes_after_the_boilerplate_are_kept_alone(boilerplate: str) -> None:
    assert user_notes(boilerplate + "\n" + NOTES) == NOTES


@pytest.mark.parametrize("boilerplate", [ZOOM, GOOGLE_MEET, TEAMS, WEBEX])
def test_boilerplate_alone_leaves_no_notes(boilerplate: str) -> None:
    assert user_notes(boilerplate) == ""


def test_a_teams_block_without_its_closing_line_is_still_dropped() -> None:
    cut = TEAMS_HTML.rsplit('<div style="width:100%', 1)[0]
    assert user_notes(cut) == NOTES


def test_teams_html_body_gives_the_notes_as_lines() -> None:
    assert user_notes(TEAMS_HTML) == NOTES


def test_crlf_descriptions_as_ics_files_carry_them() -> None:
    assert user_notes((NOTES + "\n\n" + GOOGLE_MEET).replace("\n", "\r\n")) == NOTES


def test_html_entities_lists_and_scripts() -> None:
    html = (
        "<p>Budget &amp; timing</p><ul><li>send deck</li><li>call &lt;Bob&gt;</li></ul>"
        "<script>alert('x')</script><style>p{color:red}</style>"
    )
    assert user_notes(html) == "Budget & timing\n\n- send deck\n- call <Bob>"


def test_plain_text_that_mentions_tags_is_not_parsed_as_html() -> None:
    assert html_to_text("5 < 6 and 7 > 3 &amp; more") == "5 < 6 and 7 > 3 & more"


@pytest.mark.parametrize(
    "line",
    [
        "2025 - 2026 roadmap",
        "Call back about pricing",
        "- send the passcode manager comparison",
        "Phone: ask for her mobile",
        "Team offsite in May",
    ],
)
def test_ordinary_notes_that_look_a_bit_like_boilerplate_survive(line: str) -> None:
    assert user_notes(line + "\n\n" + ZOOM) == line


def test_empty_and_whitespace_descriptions() -> None:
    assert user_notes("") == ""
    assert user_notes("  \n\t ") == ""

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


# --- Newer invitations: Teams 2024, Calendly, Riverside, rules and box drawing -------------

TEAMS_2024, TEAMS_2024_HTML, CALENDLY, RIVERSIDE, MEET_WITH_RULES = (
    (DATA / name).read_text(encoding="utf-8")
    for name in (
        "teams_2024.txt",
        "teams_2024.html",
        "calendly.txt",
        "riverside.txt",
        "meet_with_rules.txt",
    )
)
NEWER = [TEAMS_2024, CALENDLY, RIVERSIDE, MEET_WITH_RULES]
NEWER_IDS = ["teams-2024", "calendly", "riverside", "meet-with-rules"]


@pytest.mark.parametrize("boilerplate", NEWER, ids=NEWER_IDS)
def test_newer_invitations_leave_only_the_notes_above_them(boilerplate: str) -> None:
    assert user_notes(NOTES + "\n\n" + boilerplate) == NOTES


@pytest.mark.parametrize("boilerplate", NEWER, ids=NEWER_IDS)
def test_newer_invitations_leave_only_the_notes_below_them(boilerplate: str) -> None:
    assert user_notes(boilerplate + "\n" + NOTES) == NOTES


@pytest.mark.parametrize("boilerplate", NEWER, ids=NEWER_IDS)
def test_newer_invitations_alone_leave_nothing(boilerplate: str) -> None:
    assert user_notes(boilerplate) == ""


def test_teams_2024_html_invitation_leaves_the_notes() -> None:
    assert user_notes(TEAMS_2024_HTML) == NOTES


def test_teams_2024_dial_in_part_goes_even_when_its_rules_are_missing() -> None:
    # Some clients drop the underscore lines when a description is copied around; the
    # lines between them must still not survive.
    bare = "\n".join(line for line in TEAMS_2024.splitlines() if not line.startswith("___"))
    assert user_notes(NOTES + "\n" + bare) == NOTES


def test_calendly_keeps_the_invitees_answer_but_not_its_booking_lines() -> None:
    booked = CALENDLY.replace(
        "Need to make changes",
        "Questions:\nPlease share anything that will help prepare for our meeting.\n"
        "We want to benchmark our CI runners.\n\nNeed to make changes",
    )
    notes = user_notes(booked)
    assert notes == "We want to benchmark our CI runners."


def test_notes_inside_two_invitations_survive_in_order() -> None:
    described = "Met at the booth.\n\n" + ZOOM + "\nAsked about ARM builds.\n\n" + CALENDLY
    assert user_notes(described) == "Met at the booth.\n\nAsked about ARM builds."


@pytest.mark.parametrize(
    "rule",
    [
        "────────────────────",
        "━━━━━━━━━━",
        "══════════",
        "——————",
        "– – – – –",
        "__________",
        "* * *",
        "=====",
        "~~~~~~~~",
        "-----",
    ],
)
def test_separator_rules_never_survive(rule: str) -> None:
    assert user_notes(f"Budget owner is Ana.\n{rule}\nPilot in May.") == (
        "Budget owner is Ana.\nPilot in May."
    )


@pytest.mark.parametrize(
    "line",
    [
        "Riverside studio setup was a pain for them",
        "Event in Lisbon next month",
        "Cancel the Tuesday sync",
        "More info on their ARM fleet to come",
        "- - we should ask about SSO",
        "Join the beta? maybe",
    ],
)
def test_notes_that_look_a_bit_like_the_newer_boilerplate_survive(line: str) -> None:
    assert user_notes(line + "\n\n" + TEAMS_2024 + "\n" + CALENDLY) == line

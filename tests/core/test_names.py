"""Greeting names: a wrong greeting is worse than a neutral one."""

from __future__ import annotations

import pytest

from followup.core.names import clean_display_name, organization_from_email, parse_name


@pytest.mark.parametrize(
    ("raw", "given", "family", "greeting"),
    [
        ("Jane Doe", "Jane", "Doe", "Jane"),
        ("Doe, Jane", "Jane", "Doe", "Jane"),
        ('"Jane Doe"', "Jane", "Doe", "Jane"),
        ("Jane Doe (via Google Calendar)", "Jane", "Doe", "Jane"),
        ("Jane Doe via Google", "Jane", "Doe", "Jane"),
        ("Jane Doe, PhD", "Jane", "Doe", "Jane"),
        ("Mary Ann Smith", "Mary", "Smith", "Mary"),
        ("SMITH, JOHN", "John", "Smith", "John"),
        ("JOHN SMITH", "John", "Smith", "John"),
        ("Smith, John", "John", "Smith", "John"),
        ("van der Berg, Anna", "Anna", "van der Berg", "Anna"),
        ("ANNA VAN DER BERG", "Anna", "van der Berg", "Anna"),
        ("de la Cruz, María", "María", "de la Cruz", "María"),
        ("Dr. Jane Q. Doe Jr.", "Jane", "Doe", "Jane"),
        ("MCDONALD, RONALD", "Ronald", "McDonald", "Ronald"),
        ("Herr Hans Müller", "Hans", "Müller", "Hans"),
        ("Seán O'Brien", "Seán", "O'Brien", "Seán"),
        ("Иван Петров", "Иван", "Петров", "Иван"),
        ("Jane", "Jane", None, "Jane"),
        ("Dr. Jane Doe", "Jane", "Doe", "Jane"),
        ("Prof Jane Doe", "Jane", "Doe", "Jane"),
        ("Jane Doe (Acme)", "Jane", "Doe", "Jane"),
        ("Doe, Jane [External]", "Jane", "Doe", "Jane"),
    ],
)
def test_reliable_names_are_split_and_greeted_by_first_name(
    raw: str, given: str, family: str | None, greeting: str
) -> None:
    name = parse_name(raw)
    assert (name.given, name.family, name.greeting) == (given, family, greeting)
    assert name.reliable


@pytest.mark.parametrize(
    "raw",
    [
        "JOHN",
        "ACME CORP",
        "Dr. Smith",
        "Smith Jones, Acme",
        "jane@x.com",
        "Acme Corp",
        "Acme GmbH",
        "Sales Team",
        "J.",
        "J. Smith",
        "Doe, J.",
        "Jane Doe, Acme",
        "Doe, Jane, Acme",
        "jane.doe",
        "Room 4.12",
        "",
        "   ",
        None,
    ],
)
def test_unreliable_names_greet_neutrally(raw: str | None) -> None:
    name = parse_name(raw)
    assert name.greeting is None
    assert not name.reliable
    assert name.given is None


@pytest.mark.parametrize(
    ("raw", "display"),
    [
        ("SMITH, JOHN", "John Smith"),
        ("Smith, John", "John Smith"),
        ("van der Berg, Anna", "Anna van der Berg"),
        ("Dr. Jane Q. Doe Jr.", "Dr. Jane Q. Doe Jr."),
        ("JOHN", "JOHN"),
    ],
)
def test_display_names_read_as_they_are_said(raw: str, display: str) -> None:
    assert parse_name(raw).display == display


def test_an_address_as_name_is_not_kept_but_a_company_name_is() -> None:
    assert parse_name("jane@x.com").display is None
    assert parse_name("Acme Corp").display == "Acme Corp"


@pytest.mark.parametrize("raw", ["山田太郎", "山田 太郎", "王小明", "محمد علي", "דנה כהן"])
def test_names_in_caseless_scripts_are_kept_whole(raw: str) -> None:
    name = parse_name(raw)
    assert name.display == raw
    assert name.greeting == raw  # order unknown: greet with the name as written


@pytest.mark.parametrize(
    "raw",
    [
        "Jane\r\nBcc: evil@example.com",
        "Jane\nDoe",
        "Jane\x00\x1b[31mDoe",
        "Jane\u2028Doe",
        "Jane\u202eeoD",
        "  Jane \t  Doe  ",
    ],
)
def test_display_names_never_span_lines_or_carry_controls(raw: str) -> None:
    clean = clean_display_name(raw)
    assert clean is not None
    assert clean == clean.strip()
    assert all(ch.isprintable() for ch in clean)
    assert "  " not in clean


def test_clean_display_name_keeps_apostrophes_and_strips_wrapping_quotes() -> None:
    assert clean_display_name("'Jane Doe'") == "Jane Doe"
    assert clean_display_name("“Jane Doe”") == "Jane Doe"
    assert clean_display_name("D'Arcy O'Neil") == "D'Arcy O'Neil"


def test_very_long_names_are_cut() -> None:
    clean = clean_display_name("Jane " * 100)
    assert clean is not None and len(clean) <= 80


@pytest.mark.parametrize(
    ("email", "org"),
    [
        ("jane@acme-corp.com", "Acme Corp"),
        ("jane@acme.com", "Acme"),
        ("jane@mail.acme.com", "Acme"),
        ("jane@acme.co.uk", "Acme"),
        ("jane@ibm.com", "IBM"),
        ("jane@roe_industries.de", "Roe Industries"),
        ("jane@gmail.com", None),
        ("jane@outlook.com", None),
        ("jane@yahoo.co.uk", None),
        ("jane@icloud.com", None),
        ("jane@hp.com", "HP"),
        ("jane@gmail.de", None),
        ("jane@hotmail.es", None),
        ("jane@live.com", None),
        ("jane@yahoo.com.br", None),
        ("jane@gmx.net", None),
        ("jane@web.de", None),
        ("jane@posteo.de", None),
        ("jane@proton.me", None),
        ("jane@me.com", None),
        ("2_gm3tgnzxgm3dqmjq@imip.me.com", None),
        ("jane@privaterelay.appleid.com", None),
        ("jane@contoso.onmicrosoft.com", None),
        ("jane@contoso.mail.onmicrosoft.com", None),
        ("c_abc@group.calendar.google.com", None),
        ("jane@co.uk", None),
        ("jane@me", None),
        ("not an address", None),
    ],
)
def test_organization_from_email(email: str, org: str | None) -> None:
    assert organization_from_email(email) == org

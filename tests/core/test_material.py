"""What a draft may use from a meeting's description, and what never leaves the user's notes.

The notes here are written the way people type them after a meeting: terse, mixed languages,
judgement and promise on one line, pasted invitations around them.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from followup.core.material import Material, Promise, find_tags, read_material

DATA = Path(__file__).parent / "data"


def invitation(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def promised(material: Material) -> list[tuple[str, str]]:
    return [(p.kind, p.item) for p in material.promises]


# --- Promises ---------------------------------------------------------------------------------

PROMISES: list[tuple[str, list[tuple[str, str]]]] = [
    # English, terse
    ("Promised: send the Kalman filter article", [("send", "the Kalman filter article")]),
    ("promised to send her the deck", [("send", "the deck")]),
    ("TODO: send Jane the pricing sheet", [("send", "the pricing sheet")]),
    ("send the article on Kalman filters", [("send", "the article on Kalman filters")]),
    ("- send article on Kalman filters", [("send", "the article on Kalman filters")]),
    ("I'll send the benchmark results", [("send", "the benchmark results")]),
    ("will send slides", [("send", "the slides")]),
    ("Great chat; will send over the case study by Friday", [("send", "the case study")]),
    ("[ ] email him the onboarding checklist", [("send", "the onboarding checklist")]),
    ("will send the NDA to jane@acme.example", [("send", "the NDA")]),
    ("I owe Priya the benchmark numbers", [("send", "the benchmark numbers")]),
    ("Promised her the deck", [("send", "the deck")]),
    ("intro to Charles Martin (his CFO)", [("intro", "Charles Martin")]),
    ("introduce her to Charles", [("intro", "Charles")]),
    ("connect him with Ana", [("intro", "Ana")]),
    ("I'll introduce Jane to Dr. Okafor, their old advisor", [("intro", "Dr. Okafor")]),
    ("Promised an intro to someone at Stripe", [("intro", "someone at Stripe")]),
    (
        "Promised: check availability for a workshop in May",
        [("do", "check availability for a workshop")],
    ),
    # Judgement and promise on one line: only the object survives.
    (
        "Promised: send the Kalman filter article - he seemed bored",
        [("send", "the Kalman filter article")],
    ),
    ("TODO: send the pricing deck (our floor is 40k!)", [("send", "the pricing deck")]),
    ("Lean no - 5/10. Will send the case study though", [("send", "the case study")]),
    ("I'll send the deck tomorrow, she wants it for the board", [("send", "the deck")]),
    ("send her the deck, but not the roadmap", [("send", "the deck")]),
    ("intro to Charles Martin because he needs a CTO", [("intro", "Charles Martin")]),
    # German
    ("Versprochen: Artikel über Kalman-Filter schicken", [("send", "Artikel über Kalman-Filter")]),
    ("schicke ihm das Whitepaper", [("send", "das Whitepaper")]),
    ("ich schicke ihr morgen die Folien", [("send", "die Folien")]),
    ("Habe ihr versprochen, das Deck zu schicken", [("send", "das Deck")]),
    ("Intro zu Klaus Weber", [("intro", "Klaus Weber")]),
    ("vorstellen: Klaus Weber (Vertrieb)", [("intro", "Klaus Weber")]),
    ("Versprochen: ihm Klaus Weber vorstellen", [("intro", "Klaus Weber")]),
    ("Whitepaper schicken, aber Preise erst nach dem Pilot", [("send", "Whitepaper")]),
    ("Deck schicken - Kunde wirkt unentschlossen", [("send", "Deck")]),
    ("Preisliste schicken (Untergrenze 30k)", [("send", "Preisliste")]),
    ("Ich schicke ihm die Präsentation, obwohl er nervt", [("send", "die Präsentation")]),
    ("ihm die Unterlagen zur Übernahme schicken", []),
    ("Mit Anna Schmidt bekannt machen", [("intro", "Anna Schmidt")]),
    ("Stelle ihm Anna Schmidt vor", [("intro", "Anna Schmidt")]),
    # Spanish
    ("Prometí enviarle el informe", [("send", "el informe")]),
    ("Prometido: enviar la propuesta", [("send", "la propuesta")]),
    ("enviar la presentación", [("send", "la presentación")]),
    ("Le prometí a Carlos enviarle el informe el viernes", [("send", "el informe")]),
    ("presentarle a Carlos", [("intro", "Carlos")]),
    ("presentarle a Lucía Fernández pero no hoy", [("intro", "Lucía Fernández")]),
    ("enviar el informe de precios (nuestro mínimo es 20k)", [("send", "el informe de precios")]),
    ("le mando el enlace al repositorio", [("send", "el enlace al repositorio")]),
    ("ponerle en contacto con Marta López", [("intro", "Marta López")]),
    # French
    ("Promis : envoyer l'article", [("send", "l'article")]),
    ("lui envoyer la présentation", [("send", "la présentation")]),
    ("J'ai promis de lui envoyer la présentation", [("send", "la présentation")]),
    ("présenter à Claire", [("intro", "Claire")]),
    ("envoyer le devis, il semble pressé", [("send", "le devis")]),
    ("mettre en relation avec Paul Durand", [("intro", "Paul Durand")]),
    ("Promis : vérifier les disponibilités en mai", [("do", "vérifier les disponibilités")]),
    ("Promis : présenter à Claire Dubois, mais parce que", [("intro", "Claire Dubois")]),
]


@pytest.mark.parametrize(("notes", "expected"), PROMISES, ids=[p[0][:40] for p in PROMISES])
def test_promises_are_read_down_to_the_object(notes: str, expected: list[tuple[str, str]]) -> None:
    assert promised(read_material(notes)) == expected


MORE_PROMISES: list[tuple[str, list[tuple[str, str]]]] = [
    ("Don't forget: send the deck", [("send", "the deck")]),
    ("nicht vergessen: Deck schicken", [("send", "Deck")]),
    ("On va lui envoyer le devis", [("send", "le devis")]),
    ("shoot her a link", [("send", "a link")]),
    ("send calendar invite for Tuesday", [("send", "the calendar invite")]),
    (
        "send the pricing deck to Jane and the case study",
        [("send", "the pricing deck and the case study")],
    ),
    ("send the deck to their CTO", [("send", "the deck")]),
    ("Next: send deck, then demo", [("send", "the deck")]),
    ("Promised: get back to you on SSO", [("do", "get back to you on SSO")]),
    ("Promised Kalman filter article", [("send", "the Kalman filter article")]),
    ("I'll send the term sheet with our 2x liquidation pref", [("send", "the term sheet")]),
    ("send the recording of the call where she cried", [("send", "the recording of the call")]),
    ("send the case study Gavin hated", []),
    ("send the acquisition memo", []),
    ("send the list of their weaknesses", []),
    ("send the pitch deck 2.3 with the 12M valuation", [("send", "the pitch deck")]),
    ("Promised Jane an intro to Charles", [("intro", "Charles")]),
    # Not promises to the person: theirs, ours internally, past, vague, or a question.
    ("She'll send me their API docs", []),
    ("They will send the contract", []),
    ("send the deck to my team", []),
    ("share the news with the team", []),
    ("forward the thread to legal", []),
    ("Sent the deck already", []),
    ("she gave me an intro to Charles", []),
    ("Introduced to Charles by Bob", []),
    ("Intro call with Jane went long", []),
    ("send them pricing?", []),
    ("maybe send the deck", []),
    ("Promised: think about it", []),
    ("email is best", []),
    ("share price is up 10%", []),
    ("Er schickt mir die Unterlagen", []),
    ("Il va m'envoyer le devis", []),
    ("No le envié nada", []),
    ("presentar la propuesta al comité", []),
    ("présenter la démo à l'équipe", []),
]


@pytest.mark.parametrize(
    ("notes", "expected"), MORE_PROMISES, ids=[p[0][:40] for p in MORE_PROMISES]
)
def test_promises_and_lines_that_only_look_like_one(
    notes: str, expected: list[tuple[str, str]]
) -> None:
    assert promised(read_material(notes)) == expected


def test_a_huge_pasted_description_is_read_and_its_long_lines_ignored() -> None:
    article = "Send the deck " + "and more words " * 5000
    notes = "Promised: send the benchmark article\n" + article + "\n" + ("x " * 200 + "\n") * 500
    material = read_material(notes)
    assert promised(material) == [("send", "the benchmark article")]


def test_an_intro_between_two_people_names_the_one_the_title_does_not() -> None:
    notes = "TODO intro Bob <> Carla"
    assert promised(read_material(notes, title="Coffee with Bob Stone")) == [("intro", "Carla")]
    assert promised(read_material(notes, title="Carla / Ada sync")) == [("intro", "Bob")]


def test_a_promise_keeps_its_private_line_for_the_checklist() -> None:
    notes = "Gavin = decision maker\n- Promised: send the Kalman filter article - he seemed bored"
    (promise,) = read_material(notes).promises
    assert promise == Promise(
        kind="send",
        item="the Kalman filter article",
        source_line="- Promised: send the Kalman filter article - he seemed bored",
    )


def test_several_promises_in_order_and_each_once() -> None:
    notes = (
        "Met at RustConf booth.\n"
        "* send the benchmark article\n"
        "* intro to Charles Martin (his CFO)\n"
        "* send the benchmark article!\n"
        "* lui envoyer la présentation\n"
    )
    assert promised(read_material(notes)) == [
        ("send", "the benchmark article"),
        ("intro", "Charles Martin"),
        ("send", "la présentation"),
    ]


# --- Next step ------------------------------------------------------------------------------

NEXT_STEPS: list[tuple[str, str | None]] = [
    ("wants a demo", "a demo"),
    ("next step: pilot scope", "the pilot scope"),
    ("interested in a pilot", "a pilot"),
    ("follow-up call about pricing", "pricing"),
    ("möchte eine Demo", "eine Demo"),
    ("quiere una demo", "una demo"),
    ("veut une démo", "une démo"),
    ("next: workshop with their team", "a workshop with their team"),
    ("Ana wants a demo - but budget frozen until Q3", "a demo"),
    ("Let's schedule a demo next week", "a demo"),
    ("wants a demo of the API for their lawyers", "a demo of the API"),
    ("wants a demo of the dashboard", "a demo of the dashboard"),
    ("wants a demo of the thing they built last quarter in Berlin", None),  # too long to trust
    ("Nächster Schritt: Pilot-Umfang", "Pilot-Umfang"),
    ("Prochaine étape : atelier avec leur équipe", "atelier avec leur équipe"),
    ("veut un atelier avec son équipe", "un atelier"),
    ("quiere una demo pero no tiene presupuesto", "una demo"),
    ("reunión de seguimiento sobre precios", "precios"),
    ("möchte eine Demo für ihr Team", "eine Demo"),
]


@pytest.mark.parametrize(("notes", "expected"), NEXT_STEPS, ids=[n[0] for n in NEXT_STEPS])
def test_the_next_step_is_the_purpose_of_the_next_meeting(notes: str, expected: str | None) -> None:
    assert read_material(notes).next_step == expected


@pytest.mark.parametrize(
    ("notes", "expected"),
    [
        ("next: call with their CEO to close the deal", "a call with their CEO"),
        ("follow-up call about their cash problems", None),
        ("follow-up call about the acquisition", None),
        ("wants a call about the lawsuit", None),
        ("Next step: negotiate down to 30k", None),
        ("next step: pilot at 50% discount", None),
        ("doesn't want a demo", None),
        ("wants a demo?", None),
        ("Gavin wants exclusivity", None),
        ("wants an intro to our CTO", None),
    ],
)
def test_a_next_step_carries_no_more_than_the_purpose(notes: str, expected: str | None) -> None:
    assert read_material(notes).next_step == expected


def test_the_first_next_step_wins() -> None:
    notes = "wants a demo\nnext step: pilot scope"
    assert read_material(notes).next_step == "a demo"


def test_a_next_step_heading_over_a_promise_is_a_promise() -> None:
    material = read_material("Next steps: send proposal")
    assert material.next_step is None
    assert promised(material) == [("send", "the proposal")]


# --- Judgements yield nothing ---------------------------------------------------------------

PRIVATE = [
    "seemed bored",
    "6/10, lean no hire",
    "Gavin pushes for exclusivity - DON'T agree yet",
    "our floor is 40k",
    "OFF THE RECORD: we're raising Series A",
    "TODO: check their funding",
    "CFO thinks the board will kill the project",
    "Don't send the pricing sheet yet",
    "Maybe pitch the enterprise tier?",
    "red flag: churned from Acme after 2 months",
    "Budget: 120k USD, approved by Tom",
    "confidential - will send the term sheet once signed",
    "wants exclusivity for DACH",
    "Vertraulich: Übernahmegespräche mit Siemens",
    "wirkte gelangweilt, eher kein Fit",
    "Untergrenze 25k EUR",
    "Preisliste nicht schicken",
    "parecía aburrido, no contratar",
    "confidencial: despidos en marzo",
    "semblait pressé, pas convaincu",
    "entre nous : rachat prévu, envoyer le contrat",
]


@pytest.mark.parametrize("line", PRIVATE)
def test_a_judgement_yields_no_promise_and_no_next_step(line: str) -> None:
    material = read_material(line)
    assert material.promises == ()
    assert material.next_step is None
    assert material.shareable == ""
    assert material.private == line


# --- The leak property ----------------------------------------------------------------------

STOPWORDS = frozenset(
    re.findall(
        r"\S+",
        """a an the to of for and or in on at by is are was we our us they their he she his her it
    i me my you your be will with from after before yet this that de la le les el los las un una
    une des du der die das den dem ein eine mit von und en et y no
    send wants schicken envoyer""",  # verbs that outputs never carry
    )
)
SAFE_PROMISES = [
    "Promised: send the Kalman filter article",
    "I'll send the Rust benchmark article",
    "intro to Charles Martin",
    "Versprochen: Artikel über Kalman-Filter schicken",
    "Prometí enviarle el informe",
    "lui envoyer la présentation",
    "wants a demo",
    "next step: pilot scope",
]
SAFE_SHARED = [
    "> Great to meet you at the Kalman booth.",
    "Share: Loved your talk on compilers",
    "Teilen: Danke für das Gespräch",
]


def _words_of(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


LEAK_WORDS = set().union(*(_words_of(line) for line in PRIVATE)) - STOPWORDS


def _outputs(material: Material) -> list[str]:
    out = [material.shareable, *(p.item for p in material.promises)]
    return out + ([material.next_step] if material.next_step else [])


def test_the_safe_samples_share_no_words_with_the_private_ones() -> None:
    # Otherwise the leak property below could not tell a leak from a shared word.
    for line in SAFE_PROMISES + SAFE_SHARED:
        assert not (_words_of(line) & LEAK_WORDS), line


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(PRIVATE),
            st.sampled_from(SAFE_PROMISES),
            st.sampled_from(SAFE_SHARED),
            st.tuples(
                st.sampled_from(SAFE_PROMISES),
                st.sampled_from([" - ", " — ", "; ", " (", ", but ", ". ", " because "]),
                st.sampled_from(PRIVATE),
            ).map("".join),
            st.tuples(
                st.sampled_from(PRIVATE),
                st.sampled_from([". ", "; ", " - "]),
                st.sampled_from(SAFE_PROMISES),
            ).map("".join),
        ),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from(["\n", "\n\n", "\n- ", "<br>", "</p><p>"]),
)
def test_no_private_word_reaches_anything_a_draft_may_use(lines: list[str], joint: str) -> None:
    material = read_material(joint.join(lines))
    for text in _outputs(material):
        assert not (_words_of(text) & LEAK_WORDS), text


def test_a_realistic_page_of_notes_leaks_nothing_and_keeps_the_useful_parts() -> None:
    notes = (
        "Jane Doe (VP Eng, Acme) - met at KubeCon booth\n"
        "6/10, lean no hire for the DevRel role\n"
        "OFF THE RECORD: we're raising Series A\n"
        "Gavin pushes for exclusivity - DON'T agree yet\n"
        "our floor is 40k\n"
        "Promised: send the Kalman filter article - he seemed bored\n"
        "intro to Charles Martin (his CFO)\n"
        "wants a demo, but budget frozen\n"
        "> Great meeting you at KubeCon, and thanks for the tour of your lab.\n"
    )
    material = read_material(notes)
    assert material.shareable == (
        "Great meeting you at KubeCon, and thanks for the tour of your lab."
    )
    assert promised(material) == [
        ("send", "the Kalman filter article"),
        ("intro", "Charles Martin"),
    ]
    assert material.next_step == "a demo"
    assert material.private == notes.strip()


# --- Shareable text ---------------------------------------------------------------------------


def test_quote_lines_are_shareable_as_paragraphs() -> None:
    notes = (
        "seemed bored\n"
        "> Great meeting you at the booth!\n"
        ">   Loved your talk on Rust.\n"
        "our floor is 40k\n"
        "> Say hi to the team.\n"
        ">\n"
        "> PS: the café was great"
    )
    assert read_material(notes).shareable == (
        "Great meeting you at the booth!\n  Loved your talk on Rust.\n\n"
        "Say hi to the team.\n\nPS: the café was great"
    )


@pytest.mark.parametrize("marker", ["Share:", "shareable:", "Teilen:", "COMPARTIR:", "Partager :"])
def test_share_markers_in_four_languages_share_their_line_only(marker: str) -> None:
    notes = f"Gavin = blocker\n{marker} Thanks for the tour of the plant.\nour floor is 40k"
    assert read_material(notes).shareable == "Thanks for the tour of the plant."


def test_two_share_lines_are_two_paragraphs() -> None:
    notes = "Share: Thanks for the tour.\nseemed bored\n- share: Say hi to Ana!"
    assert read_material(notes).shareable == "Thanks for the tour.\n\nSay hi to Ana!"


def test_a_share_marker_with_its_text_on_the_next_lines() -> None:
    notes = "- Share:\nGreat to meet you.\nLet's keep in touch.\n\nlean no hire"
    assert read_material(notes).shareable == "Great to meet you.\nLet's keep in touch."


def test_a_share_marker_followed_by_a_blank_line_shares_nothing() -> None:
    assert read_material("Share:\n\nour floor is 40k").shareable == ""


@pytest.mark.parametrize(
    "line", [">50k ARR", ">= 3 seats", "> 40k floor", ">> escalate", "-> call"]
)
def test_comparisons_and_arrows_are_not_quotes(line: str) -> None:
    assert read_material(line).shareable == ""


def test_shareable_text_from_an_html_description() -> None:
    html = (
        "<p>seemed bored</p><p>&gt; Thanks for the great conversation!</p>"
        "<div>&gt; See you in Lisbon.</div><div>Promised: send the deck</div>"
    )
    material = read_material(html)
    # Each HTML paragraph is its own paragraph.
    assert material.shareable == "Thanks for the great conversation!\n\nSee you in Lisbon."
    assert promised(material) == [("send", "the deck")]


def test_shareable_text_keeps_the_users_words_exactly() -> None:
    notes = "> Thanks  for   the tip about `cargo-nextest` — 10x faster!"
    assert (
        read_material(notes).shareable
        == "Thanks  for   the tip about `cargo-nextest` — 10x faster!"
    )


_MARKER_LINE = re.compile(
    r"^\s*(?:[-*•]\s*)?(?:share|shareable|sharable|teilen|compartir|partager)\s*:",
    re.IGNORECASE | re.ASCII,
)
NOTE_PIECES = [
    "Promised: send the deck",
    "a > b, and 7 > 3",
    "wants a demo",
    "<p>Budget &amp; timing</p>",
    "share price went up",
    "Shared: nothing",
    "#nofollowup",
    "Meeting ID: 812 3456 7890",
    "\u2028",
]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet=st.characters(blacklist_characters="<>&")),
            st.sampled_from(NOTE_PIECES),
        ),
        max_size=8,
    ).map("\n".join)
)
def test_without_quote_lines_or_share_markers_nothing_is_shareable(text: str) -> None:
    if any(_MARKER_LINE.match(line) for line in text.splitlines()):
        return
    assert read_material(text).shareable == ""


# --- External organisers ----------------------------------------------------------------------


def test_an_external_organisers_agenda_gives_no_shareable_promise_or_next_step() -> None:
    agenda = (
        "Agenda\n"
        "> Welcome and introductions\n"
        "Share: slides will be sent after the session\n"
        "1. We'll send the recording to all attendees\n"
        "2. Intro to Charles Martin, our new CEO\n"
        "Next step: pilot scope\n"
        "Questions to events@acme.example #followup"
    )
    material = read_material(agenda, by_user=False)
    assert material.shareable == ""
    assert material.promises == ()
    assert material.next_step is None
    assert material.private == agenda
    assert material.tags == {"followup"}
    assert material.addresses == ("events@acme.example",)


# --- Pasted invitations -----------------------------------------------------------------------

ABOVE = "Promised: send the benchmark article\nseemed bored"
BELOW = "intro to Charles Martin (his CFO)\nwants a demo"
INVITATIONS = [
    "zoom.txt",
    "google_meet.txt",
    "teams.txt",
    "teams_2024.txt",
    "webex.txt",
    "calendly.txt",
    "riverside.txt",
    "meet_with_rules.txt",
]


@pytest.mark.parametrize("name", INVITATIONS)
def test_notes_above_and_below_a_pasted_invitation(name: str) -> None:
    material = read_material(ABOVE + "\n\n" + invitation(name) + "\n" + BELOW)
    assert material.private == ABOVE + "\n\n" + BELOW
    assert promised(material) == [
        ("send", "the benchmark article"),
        ("intro", "Charles Martin"),
    ]
    assert material.next_step == "a demo"
    assert material.shareable == ""
    # SIP addresses, tenant keys and the invitee's own address are the invitation's, not notes.
    assert material.addresses == ()


def test_a_teams_html_description_gives_the_promised_intro() -> None:
    material = read_material(invitation("teams_2024.html"))
    assert (
        material.private == "Jane wants the Q3 benchmark article.\nIntro her to Bob (CTO at Roe)."
    )
    assert promised(material) == [("intro", "Bob")]


# --- Tags and addresses -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("#nofollowup", {"nofollowup"}),
        ("Coffee with Jane #NoFollowUp", {"nofollowup"}),
        ("#no-followup, recruiter", {"nofollowup"}),
        ("#no_follow_up", {"nofollowup"}),
        ("Hallway chat #followup", {"followup"}),
        ("#follow-up and #nofollowup", {"followup", "nofollowup"}),
        ("issue#followup, C#followup, ##followup", set()),
        ("#followups #followupnow", set()),
        ("no tags here", set()),
    ],
)
def test_find_tags(text: str, tags: set[str]) -> None:
    assert find_tags(text) == tags


def test_tags_come_from_the_title_and_the_notes() -> None:
    material = read_material("met at the booth\n#followup", title="Jane <> Ada #NoFollowUp")
    assert material.tags == {"followup", "nofollowup"}


def test_addresses_in_the_notes_in_order_lower_case_once() -> None:
    notes = (
        "Met Jane (Jane.Doe@Acme.example) in the hallway.\n"
        "cc her colleague <bob@roe.example>, mailto:jane.doe@acme.example.\n"
        "Not an address: @handle, foo@bar, 5@10"
    )
    assert read_material(notes).addresses == ("jane.doe@acme.example", "bob@roe.example")


def test_empty_description() -> None:
    material = read_material("")
    assert material == Material("", "", (), None, frozenset(), ())


def test_the_result_does_not_depend_on_line_order_for_the_leak_words() -> None:
    # A shuffled page must not produce new outputs out of private words either.
    lines = PRIVATE + SAFE_PROMISES
    for seed in range(20):
        random.Random(seed).shuffle(lines)
        for text in _outputs(read_material("\n".join(lines))):
            assert not (_words_of(text) & LEAK_WORDS), text


def test_two_promises_joined_by_and_are_both_read() -> None:
    m = read_material(
        "Promised: send her the Kalman filter article, and introduce her to Charles Babbage "
        "(he solved the same problem last year)."
    )
    assert [(p.kind, p.item) for p in m.promises] == [
        ("send", "the Kalman filter article"), ("intro", "Charles Babbage")]

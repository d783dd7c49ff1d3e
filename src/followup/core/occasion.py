"""A meeting's facts in the words a person uses: "over coffee", "on our call", "at FactoryTech".

Calendar titles are written for the calendar, not for the other person: "[EXT] Quarterly review",
"Jane <> Ada", "Coffee with Jane Doe", "FactoryTech 2026 – Booth 12". A first note that quotes
them reads like a mail merge, and one that says "Coffee with Jane Doe" to Jane leaks how the user
files her. This module turns a title into an `Occasion` (a kind, an optional name, a phrase and
a subject line) in English, German, Spanish or French, and says when the meeting was the way a
person would ("yesterday", "on Friday"), never with a year or a full date.

Everything here is pure: no clock (today is passed in), no I/O, except that `detect_language`
loads its model lazily from the installed package on its first call.

Register. German phrases use the polite "Sie" throughout ("Schön, Sie ... kennengelernt zu
haben"); French uses "vous" with wording that does not depend on the reader's gender ("faire
votre connaissance" rather than "vous avoir rencontré(e)"); Spanish uses wording that needs
neither "tú" nor "usted" ("Un placer conocernos", "Gracias por la llamada"), because which one
fits depends on the country as much as on the relationship.

Names. `Occasion.name` carries the English article ("the Quarterly review") only for English;
German, Spanish and French articles depend on a noun's gender, which a title does not tell, so
there the name is bare and phrases quote it after a neutral noun ('beim Termin „Quarterly
review“').

Language detection (`detect_language`) uses py3langid, chosen after measuring three candidates
on 40 short realistic meeting notes (10 per language, tests/core/test_occasion.py) plus 24
harder ones (4-6 words, English loanwords in German/Spanish/French notes: "Pilot im Q3, Pricing
schicken."), each restricted to en/de/es/fr and scored on its top answer:

    package (version)               download         installed           40 notes  24 hard  time/40
    py3langid 0.4.0 (+ numpy 2.4)   4.6 + 17 MB      4.5 + 73 MB         40/40     24/24    3 ms
    lingua-language-detector 2.1.1  96 MB            96 MB               40/40     23/24    780 ms
    langdetect 1.0.9 (+ six)        1.0 MB           2.5 MB              40/40     23/24    290 ms

py3langid ships its model in the wheel (nothing is downloaded at run time), is deterministic
(langdetect is random unless seeded and has not been released since 2021), classifies the 40
notes in 3 ms once loaded, and loads in 0.6 to 0.9 s, which is why the model is loaded on the
first call and not at import. It is asked to choose among en/de/es/fr plus the languages most
easily mistaken for them (Italian, Portuguese, Dutch, Catalan, ...), so an Italian note comes
back None rather than "es"; with that set and a 0.5 probability floor it got all 40 notes
right and, on the hard set, 22 right and 2 abstentions ("Pilot in Q3, send pricing." is too
short to be sure of), with no wrong answer; keyword strings such as "TODO deck pricing SOC2 API"
and contact lines come back None.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from followup.core.text import one_line

Language = Literal["en", "de", "es", "fr"]
LANGUAGES: tuple[Language, ...] = ("en", "de", "es", "fr")

Kind = Literal[
    "coffee", "breakfast", "lunch", "dinner", "drinks", "call", "intro", "event", "interview",
    "meeting",
]


@dataclass(frozen=True, slots=True)
class Occasion:
    """How a person would name a meeting in a note.

    `name` is the meeting's own name when it is worth saying ("FactoryTech", "the Quarterly
    review"), else None. `phrase` fits "It was good to meet you {phrase}" ("over coffee", "on
    our call", "at FactoryTech"), except for an intro, where it is the noun "the introduction".
    `subject` is a short subject line. Neither ever holds a year, a date, a calendar tag or
    the name of a person on the invite.
    """

    kind: Kind
    name: str | None
    phrase: str
    subject: str


# ---------------------------------------------------------------------------------------------
# Text helpers


def _fold(text: str) -> str:
    """Lower case without accents, one character for one (so spans line up with the input)."""
    out = []
    for ch in text:
        base = unicodedata.normalize("NFD", ch)[0]
        low = base.lower()
        out.append(low if len(low) == 1 else base)
    return "".join(out)


def _words(text: str) -> frozenset[str]:
    return frozenset(_fold(text).split())


_SPACES = re.compile(r"\s+")
_YEAR = re.compile(r"(?<![\w.])(?:19|20)\d\d(?![\w.])")
# Numeric dates and times: 2026-03-03, 3.3.2026, 03/03, 10:30, 10am, 3 pm.
_DATE_OR_TIME = re.compile(
    r"(?<!\w)(?:\d{1,4}[./-]\d{1,2}(?:[./-]\d{2,4})?|\d{1,2}:\d\d\s*(?:[ap]\.?m\.?)?|"
    r"\d{1,2}\s*[ap]\.?m\.?)(?!\w)",
    re.IGNORECASE,
)
_MONTHS = (
    r"(?:jan(?:uary|uar)?|feb(?:ruary|ruar)?|m[aä]r(?:ch|z)?|apr(?:il)?|may|mai|"
    r"june?|juni|july?|juli|aug(?:ust)?|sep(?:t|tember)?|oct(?:ober)?|okt(?:ober)?|"
    r"nov(?:ember)?|dec(?:ember)?|dez(?:ember)?|enero|febrero|marzo|abril|mayo|junio|julio|"
    r"agosto|septiembre|octubre|noviembre|diciembre|janvier|f[eé]vrier|mars|avril|juin|"
    r"juillet|ao[uû]t|septembre|octobre|novembre|d[eé]cembre)\.?"
)
# Dates in words: "3 March", "3. März 2026", "March 3rd, 2026", "el 3 de marzo", "März 2026".
# A month name alone stays: "May", "Mars" and "Jan" are also words, products and names.
_WORDY_DATE = re.compile(
    rf"(?<!\w)(?:\d{{1,2}}(?:st|nd|rd|th|er|\.)?\s+(?:of\s+|de\s+)?{_MONTHS}"
    rf"(?:\s+(?:de\s+)?(?:19|20)\d\d)?|{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?"
    rf"(?:,?\s+(?:19|20)\d\d)?|{_MONTHS}\s+(?:19|20)\d\d)(?!\w)",
    re.IGNORECASE,
)


# ---------------------------------------------------------------------------------------------
# clean_title

# Prefixes that mail and calendar systems (and people) put in front of a title.
_PREFIX = re.compile(
    r"^\s*(?:\[\s*ext(?:ernal)?\s*\]|\(\s*ext(?:ernal)?\s*\)|external\s*:|ext\s*:|"
    r"updated invitation(?: with note)?\s*:|invitation\s*:|aktualisierte einladung\s*:|"
    r"einladung\s*:|invitaci[oó]n(?: actualizada)?\s*:|invitation mise [aà] jour\s*:|"
    r"accepted\s*:|angenommen\s*:|aceptado\s*:|accept[eé]\s*:|tentative\s*:|"
    r"(?:re|aw|fwd?|wg|tr|rv)\s*:(?=\s))\s*",
    re.IGNORECASE,
)
# Tags anywhere in the title: any [bracketed] word ("[EXT]", "[Acme]", "[Confidential]" are
# labels for the calendar's owner) and "(External)".
_TAG = re.compile(r"\[[^\[\]]*\]|\(\s*ext(?:ernal)?\s*\)", re.IGNORECASE)
# "@ 10am", "@ Tue 3 Mar 2026 10am - 11am (CET) (jane@acme.com)", "at 3pm": times, not places.
_WEEKDAY_ABBR = (
    r"(?:mon|tue|wed|thu|fri|sat|sun|mo|di|mi|do|fr|sa|so|lun|mar|mer|jeu|ven|sam|dim|mie|"
    r"mié|jue|vie|sab|sáb|dom)"
)
_TIME_SUFFIX = re.compile(
    r"\s*(?:@|\bat\b|\bum\b|\bà\b|\ba las\b)\s*"
    rf"(?={_WEEKDAY_ABBR}\w*\.?,?\s*\d|\d{{1,2}}(?:[:.h]\d\d)?\s*(?:[ap]\.?m\.?|uhr\b|h\b|$|[-–(]))"
    r".*$",
    re.IGNORECASE,
)
# "(30 min)", "- 30 min", "(1h)", "– 1 hour", "45mins" at the end.
_DURATION_SUFFIX = re.compile(
    r"\s*(?:[-–—|,]\s*)?\(?\s*\d+(?:[.,]\d+)?\s*(?:min(?:ute)?s?|minuten|minutos|h|hrs?|"
    r"hours?|std\.?|stunden?|horas?|heures?)\.?\s*\)?\s*$",
    re.IGNORECASE,
)

# Token kinds: words, and separators (punctuation that joins or brackets words).
_TOKEN = re.compile(
    r"\d{1,2}:\d{1,2}"  # "1:1", "10:30" are words, not "1" ":" "1"
    r"|\w+(?:[&+]\w+)+"  # "Q&A", "R&D", "C++" stay words
    r"|<->|<=>|<>|->|=>"
    r"|(?<!\w)w/"
    r"|[/|&+,;()\[\]–—]|:(?=\s|$)"
    r"|-(?=\s|$)"
    r"|(?:[^\s/|&+,;:()\[\]–—<>]|:(?=\S))+"
    r"|<|>"
)
_SEPARATORS = _words("/ | & + , ; : ( ) [ ] – — - <-> <=> <> -> => < >")
# Words and signs that join names ("Jane <> Ada", "Coffee with Jane"): dropped with the names.
_CONNECTORS = _SEPARATORS | _words(
    "and und y et with w/ w mit con avec x × vs vs. & + for für para pour between zwischen entre"
)
# Connectors between equals: a capitalised word on the far side of one is a name too
# ("Jane / Charles" when only Jane is on the invite), unless it is a word of the trade.
_SYMMETRIC = _words("/ | & + , <> <-> <=> and und y et x × vs vs.")
# Parts of a name that are also ordinary words ("van der Berg", "de la Cruz").
_PARTICLES = _words("van von der den de la le du da di del dos das ten ter zu y bin al el st")


@dataclass(slots=True)
class _Token:
    text: str
    separator: bool
    removed: bool = False
    name: bool = False  # removed because it is (part of) a person's name

    @property
    def folded(self) -> str:
        return _fold(self.text)


def _drop_name_particles(tokens: list[_Token]) -> None:
    """ "van der" in "Anna van der Berg" goes with the name around it: a particle between
    removed name words, or before one, is part of that name."""
    words = [t for t in tokens if not t.separator and t.text.strip()]
    for i in range(len(words) - 1, -1, -1):
        tok = words[i]
        if tok.removed or tok.folded not in _PARTICLES:
            continue
        after = next((t for t in words[i + 1 :] if t.folded not in _PARTICLES), None)
        if after is not None and after.name:
            tok.removed = tok.name = True


def _name_words(people: Sequence[str], user_name: str) -> frozenset[str]:
    """The words that make up the people's names, folded: "Jane Doe", "jane.doe" -> jane, doe."""
    found: set[str] = set()
    for raw in (*people, user_name):
        if not raw:
            continue
        text = raw.split("@", 1)[0] if "@" in raw and " " not in raw.strip() else raw
        for part in re.split(r"[\s._\-+,()<>\"'“”]+", _fold(text)):
            word = part.strip()
            if len(word) >= 2 and word not in _PARTICLES and word not in _VOCABULARY:
                found.add(word)
    return frozenset(found)


def _is_name(token: _Token, names: frozenset[str]) -> bool:
    if token.separator:
        return False
    word = token.folded.strip(".")
    if word in names:
        return True
    # "Jane's onboarding"
    if any(word == f"{n}'s" or word == f"{n}’s" for n in names):
        return True
    # "jane.doe", "jane.doe@acme.com": an address or its local part, made of the name.
    parts = [p for p in re.split(r"[._+\-]+", word.split("@", 1)[0]) if p]
    named = [p for p in parts if p in names]
    return bool(named) and all(p in names or p in _PARTICLES for p in parts)


def _capitalised(token: _Token) -> bool:
    return not token.separator and token.text[:1].isupper() and token.folded not in _VOCABULARY


_WITH = _words("with w/ w mit con avec for für para pour")


def _drop_trailing_company(tokens: list[_Token]) -> None:
    """ "Pricing review with Jane" when we only know her as "jdoe": who a meeting is "with",
    at the end of a title, is people (or their company); neither belongs in a note to them."""
    kept = [i for i, t in enumerate(tokens) if not t.removed]
    for pos, i in enumerate(kept):
        if tokens[i].folded not in _WITH or pos == 0:
            continue
        run = kept[pos + 1 :]
        while run and tokens[run[-1]].separator and tokens[run[-1]].text != ")":
            run.pop()  # "with Jane:" / "with Jane -"
        if 1 <= len(run) <= 3 and all(_capitalised(tokens[j]) for j in run):
            for j in (i, *run):
                tokens[j].removed = tokens[j].name = True
            return


def _drop_third_parties(tokens: list[_Token]) -> None:
    """ "Jane / Charles", where only Jane is on the invite: Charles is a name as well."""
    for i, tok in enumerate(tokens):
        if tok.removed or tok.folded not in _SYMMETRIC:
            continue
        for step in (1, -1):
            near = i - step
            if not (0 <= near < len(tokens) and tokens[near].name):
                continue
            # The capitalised run on the far side, if it runs up to a separator or the end.
            j, run = i + step, list[int]()
            while 0 <= j < len(tokens) and len(run) < 3 and _capitalised(tokens[j]):
                run.append(j)
                j += step
            ends = j < 0 or j >= len(tokens) or tokens[j].separator
            if run and ends:
                for k in run:
                    tokens[k].removed = tokens[k].name = True


def _drop_affiliations(tokens: list[_Token]) -> None:
    """ "Jane Doe (Acme)": the parenthesis after a name belongs to the name."""
    for i, tok in enumerate(tokens):
        if tok.text != "(" or i == 0 or not tokens[i - 1].name:
            continue
        j = i
        while j < len(tokens) and tokens[j].text != ")":
            j += 1
        if j < len(tokens):
            for k in range(i, j + 1):
                tokens[k].removed = tokens[k].name = True


def _drop_connectors(tokens: list[_Token]) -> None:
    """Connectors next to a dropped name joined it to something: they go too."""
    changed = True
    while changed:
        changed = False
        for i, tok in enumerate(tokens):
            if tok.removed or tok.folded not in _CONNECTORS or tok.text in "()":
                continue
            neighbours = [tokens[j] for j in (i - 1, i + 1) if 0 <= j < len(tokens)]
            if any(n.name for n in neighbours):
                tok.removed = tok.name = True
                changed = True


def _drop_empty_brackets(tokens: list[_Token]) -> None:
    for i, tok in enumerate(tokens):
        if tok.removed or tok.text != "(":
            continue
        j = i + 1
        while j < len(tokens) and tokens[j].text != ")":
            j += 1
        inner = tokens[i + 1 : j]
        if j < len(tokens) and all(t.removed for t in inner):
            tok.removed = tokens[j].removed = True


def _trim_edges(tokens: list[_Token]) -> list[_Token]:
    kept = [t for t in tokens if not t.removed]
    # Leading and trailing joiners ("Intro:" once the names after it are gone).
    while kept and (kept[0].folded in _CONNECTORS and kept[0].text != "("):
        kept.pop(0)
    while kept and (kept[-1].folded in _CONNECTORS and kept[-1].text != ")"):
        kept.pop()
    return kept


def _join(tokens: Sequence[_Token]) -> str:
    out = ""
    for tok in tokens:
        text = tok.text
        if not out:
            out = text
        elif text in {":", ",", ";", ")", "]"} or out.endswith(("(", "[")):
            out += text
        else:
            out += " " + text
    return out.strip()


def clean_title(title: str, *, people: Sequence[str] = (), user_name: str = "") -> str:
    """The title without calendar tags, times, durations and the people's names.

    `people` holds the other people's display names and/or the local parts of their
    addresses; `user_name` is the user's own name. Connectors that only joined names go with
    them: "Jane <> Ada" -> "", "Coffee with Jane Doe" -> "Coffee", "Intro: Ada / Bob" ->
    "Intro". Company names are not people and stay: "Acme / Initech: pilot kickoff" is kept
    whole (describe_occasion drops such a party list when it names the occasion).
    """
    text = one_line(title, 300)
    previous = None
    while previous != text:
        previous = text
        text = _PREFIX.sub("", text)
    text = _TAG.sub(" ", text)
    text = _TIME_SUFFIX.sub("", text)
    text = _DURATION_SUFFIX.sub("", text)
    tokens = [_Token(m.group(), m.group() in _SEPARATORS) for m in _TOKEN.finditer(text)]
    for tok in tokens:
        if tok.text in ("[", "]"):
            tok.removed = True  # a bracket left from a tag we do not know: never shown
    names = _name_words(people, user_name)
    for tok in tokens:
        if _is_name(tok, names):
            tok.removed = tok.name = True
    _drop_name_particles(tokens)
    _drop_affiliations(tokens)
    _drop_third_parties(tokens)
    _drop_trailing_company(tokens)
    _drop_connectors(tokens)
    _drop_empty_brackets(tokens)
    return _join(_trim_edges(tokens))


# ---------------------------------------------------------------------------------------------
# Kinds

# Each kind's words, folded (lower case, no accents). Matched as whole words or phrases.
_KIND_WORDS: dict[str, tuple[str, ...]] = {
    "coffee": (
        "coffee", "coffee chat", "kaffee", "kaffeetrinken", "cafe", "cafecito", "cafezinho",
        "espresso", "cappuccino", "flat white", "tea", "tee", "☕",
    ),
    "breakfast": (
        "breakfast", "fruhstuck", "desayuno", "petit-dejeuner", "petit dejeuner", "🥐",
    ),
    "lunch": (
        "lunch", "brunch", "mittagessen", "mittag", "almuerzo", "comida", "dejeuner", "dej",
        "🥗", "🍱", "🥪",
    ),
    "dinner": ("dinner", "abendessen", "cena", "diner"),
    "drinks": (
        "drinks", "drink", "beer", "beers", "bier", "afterwork", "after work", "happy hour",
        "copas", "canas", "aperitivo", "apero", "aperitif", "verre", "un verre", "wine",
        "🍺", "🍻", "🍷", "🥂", "🍸",
    ),
    "call": (
        "call", "phone call", "video call", "catch up", "catch-up", "catchup", "sync",
        "chat", "quick chat", "intro call", "telefonat", "anruf", "telko", "videocall",
        "llamada", "videollamada", "appel", "visio", "1:1", "1-1", "1on1", "one-on-one",
        "one on one", "check-in", "check in", "touch base", "touchpoint", "phone", "📞", "☎",
    ),
}  # fmt: skip
_INTRO = re.compile(
    # Not "Vorstellung" or "Presentation": they present a product or results more often.
    r"^(?:intro|introduction|introducing|introduccion|mise en relation)\b"
    r"(?!\s*(?:call|chat|meeting|gesprach|llamada|appel)\b)"
)
# Words that name a conference, a fair or a meetup.
_EVENT_WORD = re.compile(
    r"\b(?:conference|conf|summit|congress|kongress|konferenz|congreso|conferencia|"
    r"expo|exhibition|messe|trade ?fair|trade ?show|fair|feria|salon|meetup|"
    r"meet-up|hackathon|festival|barcamp|unconference|world forum|booth|hall \d+|halle \d+)\b"
)
_NOT_EVENT = re.compile(r"\b(?:conference|conf|konferenz)[ -]?(?:call|room|raum|line)\b")
# "PyCon", "KubeCon", "DjangoCon": a camel-case "...Con" is a conference.
_CAMEL_CON = re.compile(r"\b[A-Z][a-z]+Con\b")
# What is said of an event that is not its name: "Booth 12", "Day 2", "Halle 3".
_EVENT_NOISE = re.compile(
    r"(?:[-–—|,:]\s*)?\b(?:booth|stand|hall|halle|pavilion|day|tag|d[ií]a|jour|track)"
    r"\s*[A-Z]?\d[\dA-Z.]*\b|"
    r"(?:[-–—|,:]\s*)?\b(?:booth visit|booth duty|standdienst|standbesuch)\b",
    re.IGNORECASE,
)
_EVENT_PREFIX = re.compile(
    r"^(?:meetup|meet-up|conference|konferenz|event|veranstaltung|messe|fair|evento|"
    r"evenement)\s*:\s*",
    re.IGNORECASE,
)

# Meeting words that say nothing on their own: a title made only of them has no name.
_GENERIC = _words(
    """meeting meetings call calls sync chat catch up catch-up catchup check-in check in touch
    base follow-up followup follow discussion session meet zoom teams hangout event placeholder
    tbd hold busy new untitled no title 1:1 1-1 besprechung termin treffen gesprach austausch
    abstimmung kennenlernen reunion junta cita encuentro charla
    rendez-vous rdv entretien echange point quick short kurz kurzes kurze brief weekly
    biweekly daily monthly our the a an first initial erstes erster primera premiere our
    virtual online in-person vor ort"""
)
# Nouns that make a title the name of a meeting (a lower-case word does as well): "Quarterly
# Business Review", "Pilot Kickoff". Matched as a word's ending, for German compounds.
_MEETING_NOUNS = (
    "review", "kickoff", "kick-off", "workshop", "demo", "planning", "planung", "pitch",
    "offsite", "retro", "retrospective", "roadmap", "onboarding", "training", "schulung",
    "strategy", "strategie", "update", "presentation", "prasentation", "negotiation",
    "verhandlung", "gesprach", "runde", "sitzung", "besprechung", "abstimmung", "meeting",
    "session", "briefing", "debrief", "walkthrough", "brainstorm", "standup", "stand-up",
    "all-hands", "townhall", "revision", "reunion", "presentacion", "taller", "formacion",
    "revue", "atelier", "formation", "lancement", "bilan", "comite", "committee", "board",
    "summit", "jour fixe", "deep dive", "q&a", "tour", "visit", "besuch",
    "visita", "pilot", "proposal", "angebot", "propuesta", "contract", "vertrag",
)  # fmt: skip
_VOCABULARY = (
    frozenset(w for words in _KIND_WORDS.values() for w in words if " " not in w)
    | _GENERIC
    | frozenset(n for n in _MEETING_NOUNS if " " not in n)
    | _words("intro introduction interview")
)


_KIND_PATTERNS = {
    kind: re.compile(
        r"(?<![\w-])(?:"
        + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        + r")(?![\w-])"
    )
    for kind, words in _KIND_WORDS.items()
}


def _first_kind(folded: str) -> str | None:
    """The food, drink or call word that comes first in the title."""
    found = [(m.start(), kind) for kind, p in _KIND_PATTERNS.items() if (m := p.search(folded))]
    return min(found)[1] if found else None


# ---------------------------------------------------------------------------------------------
# Names of meetings and events


def _strip_dates(text: str) -> str:
    text = _WORDY_DATE.sub(" ", text)
    text = _YEAR.sub(" ", text)
    text = _DATE_OR_TIME.sub(" ", text)
    return _tidy(text)


def _tidy(text: str) -> str:
    text = _SPACES.sub(" ", text).strip()
    text = re.sub(r"\(\s*\)", "", text)
    text = re.sub(r"\s+([,:;)])", r"\1", text)
    # Joiners left at either end once something was cut.
    edge = r"[\s\-–—|,:;/&+@]+"
    return re.sub(rf"^{edge}|{edge}$", "", text).strip()


def _split_venue(text: str) -> tuple[str, str | None]:
    """ "Lunch @ Nopa" -> ("Lunch", "Nopa")."""
    head, at, tail = text.partition("@")
    tail = _tidy(tail)
    if at and tail and not re.search(r"\S@\S", text):
        return _tidy(head), tail
    return text, None


def title_venue(title: str) -> str | None:
    """The place a title names after "@" ("Lunch @ Nopa" -> "Nopa"), or None.

    describe_occasion never names a venue itself (the composer takes it from the event's
    location with venue_name); this is for a meeting whose location is empty."""
    text = _TIME_SUFFIX.sub("", one_line(title, 300))
    venue = _split_venue(text)[1]
    if venue is None or _YEAR.search(venue) or _DATE_OR_TIME.search(venue):
        return None
    return venue_name(venue)


def _event_name(cleaned: str) -> str | None:
    text = _EVENT_PREFIX.sub("", cleaned)
    # "Booth visit: Acme at FactoryTech", "Lunch @ PyCon": the event is what comes after.
    parts = re.split(r"\s+(?:at|@)\s+", text)
    text = next((p for p in reversed(parts) if _is_event(p)), parts[0])
    text = _EVENT_NOISE.sub(" ", text)
    text = _strip_dates(text)
    # "CES - Las Vegas", "Hannover Messe, Halle 3": the name comes first, then where.
    text = _tidy(re.split(r"\s[-–—|]\s|,", text)[0])
    if not text or _fold(text) in _GENERIC:
        return None
    return text


def _is_event(cleaned: str) -> bool:
    folded = _fold(cleaned)
    if _NOT_EVENT.search(folded):
        return False
    if _EVENT_WORD.search(folded) or _CAMEL_CON.search(cleaned) or _EVENT_PREFIX.match(cleaned):
        return True
    # "FactoryTech 2026", "SaaStr 2026", "MWC 2026": a brand with a year and nothing else.
    if _YEAR.search(cleaned):
        rest = re.split(r"\s[-–—|]\s|,", _strip_dates(_EVENT_NOISE.sub(" ", cleaned)))[0]
        words = rest.split()
        return 1 <= len(words) <= 3 and all(
            any(ch.isupper() for ch in w) and _fold(w) not in _VOCABULARY and not _meeting_noun(w)
            for w in words
        )
    return False


def _meeting_noun(word: str) -> bool:
    folded = _fold(word).strip(".,:;")
    return any(folded.endswith(noun) for noun in _MEETING_NOUNS)


_PARTY_PREFIX = re.compile(r"^([^:]{1,60}):\s+(\S.*)$")
_DURATION = re.compile(
    r"\b\d+\s*(?:min(?:ute)?s?|minuten|minutos|h|hrs?|hours?|std|stunden?|horas?|heures?)\b",
    re.IGNORECASE,
)


def _is_parties(text: str) -> bool:
    """ "Acme", "Acme <> Initech", "Acme x Initech": the sides of a meeting, not its name."""
    sides = re.split(r"\s*(?:<>|<->|/|&|\+|\bx\b|×|\band\b|\bund\b|,)\s*", text)
    return all(
        1 <= len(side.split()) <= 3
        and all(
            w[:1].isupper() and _fold(w) not in _VOCABULARY and not _meeting_noun(w)
            for w in side.split()
        )
        for side in sides
    )


def _meeting_name(cleaned: str) -> str | None:
    """The meeting's own name when it is worth saying, else None."""
    text, _ = _split_venue(cleaned)
    text = _strip_dates(text)
    text = _DURATION.sub(" ", text)
    # "Q3 planning w/ Acme team", "Meeting between ...": who it was with is not its name.
    text = re.split(r"\s(?:with|w/|mit|con|avec|between|zwischen|entre)\s", text)[0]
    parts = [p.strip() for p in re.split(r"\s[|–—-]\s", text)]
    if len(parts) > 1:
        # "Acme <> Initech | Pilot Review", "Contract negotiation - Acme": drop the parties.
        kept = [p for p in parts if not _is_parties(p)]
        text = " ".join(kept) if kept else ""
    m = _PARTY_PREFIX.match(text)
    if m:
        prefix, rest = m.group(1).strip(), m.group(2).strip()
        # "Workshop: data strategy" -> "data strategy workshop". Otherwise the prefix names
        # the parties ("Acme / Initech: pilot kickoff"): they are who the note is to, the
        # rest is what the meeting was.
        named_by_noun = all(_meeting_noun(w) for w in prefix.split())
        text = f"{rest} {prefix.lower()}" if named_by_noun else rest
    # "QUARTERLY REVIEW" is shouting; "QBR" and "ACME" are acronyms and stay.
    text = " ".join(w.capitalize() if w.isupper() and len(w) >= 5 else w for w in text.split())
    text = _tidy(text)
    words = text.split()
    if not words or len(words) > 6 or len(text) > 48 or "?" in text:
        return None
    if all(_fold(w).strip(".,:;!()") in _GENERIC for w in words):
        return None
    # A name needs a meeting noun or an ordinary (lower-case) word: "Acme" or "Acme Initech"
    # alone names the other side, not the meeting.
    if not any(_meeting_noun(w) or w[:1].islower() for w in words):
        return None
    # A name is a meeting's when a meeting noun heads it ("pilot kickoff", "Reunión de
    # seguimiento"); "Initech latency" (from "Escalation: Initech latency") is a topic,
    # and "Great to see you at the Initech latency" is not something a person writes.
    if not (_meeting_noun(words[-1]) or _meeting_noun(" ".join(words[-2:]))
            or _meeting_noun(words[0])):
        return None
    if _YEAR.search(text) or any(ch in text for ch in "[]<>@"):
        return None
    return text


# First words that are capitalised only because a title starts with them: in a sentence they
# are lower case ("the quarterly review", "the pricing follow-up", "the demo").
_COMMON_FIRST = _words("""
    quarterly weekly monthly annual yearly pricing benchmark security product strategy sales
    budget design data roadmap project partnership board investor customer client technical
    contract renewal hiring intro kickoff kick-off demo workshop review planning follow-up
    sync status team pilot deep final first second next regular
""")


def _with_article(name: str) -> str:
    first = name.split(" ", 1)[0]
    if first.lower() in {"the", "a", "an", "our", "my", "your"}:
        return first.lower() + name[len(first) :]
    rest = name.split()[1:]
    if (first[:1].isupper() and first[1:].islower() and first.lower() in _COMMON_FIRST
            and all(not w[:1].isupper() for w in rest)):
        name = first.lower() + name[len(first) :]
    return f"the {name}"


def _event_with_article(name: str) -> str:
    # "FactoryTech", "Web Summit Lisbon", "re:Invent" take no article; "Berlin AI meetup" does.
    last = name.split()[-1]
    return _with_article(name) if last.islower() else name


# ---------------------------------------------------------------------------------------------
# Words per language


@dataclass(frozen=True, slots=True)
class _Words:
    phrase: str
    new: str  # subject for someone met for the first time
    known: str  # subject for someone already known: never "meet"


_FIXED: dict[str, dict[str, _Words]] = {
    "en": {
        "coffee": _Words(
            "over coffee", "Good to meet you over coffee", "Good to see you over coffee"
        ),
        "breakfast": _Words(
            "over breakfast", "Good to meet you over breakfast", "Good to see you over breakfast"
        ),
        "lunch": _Words("over lunch", "Good to meet you over lunch", "Good to see you over lunch"),
        "dinner": _Words(
            "over dinner", "Good to meet you over dinner", "Good to see you over dinner"
        ),
        "drinks": _Words(
            "over drinks", "Good to meet you over drinks", "Good to see you over drinks"
        ),
        "call": _Words("on our call", "Thanks for the call", "Thanks for the call"),
        "intro": _Words(
            "the introduction", "Great to be introduced", "Following up on our introduction"
        ),
        "interview": _Words(
            "in our interview", "Thanks for the interview", "Thanks for the interview"
        ),
        "event": _Words(
            "at the event", "Great to meet you at the event", "Good to see you at the event"
        ),
        "meeting": _Words("in our meeting", "Great to meet you", "Thanks for your time"),
    },
    "de": {
        "coffee": _Words(
            "beim Kaffee", "Schön, Sie beim Kaffee kennengelernt zu haben", "Danke für den Kaffee"
        ),
        "breakfast": _Words(
            "beim Frühstück",
            "Schön, Sie beim Frühstück kennengelernt zu haben",
            "Danke für das Frühstück",
        ),
        "lunch": _Words(
            "beim Mittagessen",
            "Schön, Sie beim Mittagessen kennengelernt zu haben",
            "Danke für das Mittagessen",
        ),
        "dinner": _Words(
            "beim Abendessen",
            "Schön, Sie beim Abendessen kennengelernt zu haben",
            "Danke für das Abendessen",
        ),
        "drinks": _Words(
            "bei einem Getränk",
            "Schön, Sie bei einem Getränk kennengelernt zu haben",
            "Schön, Sie bei einem Getränk wiedergesehen zu haben",
        ),
        "call": _Words("in unserem Gespräch", "Danke für das Gespräch", "Danke für das Gespräch"),
        "intro": _Words(
            "die Vorstellung", "Danke für die Vorstellung", "Im Nachgang zur Vorstellung"
        ),
        "interview": _Words(
            "in unserem Gespräch", "Danke für das Gespräch", "Danke für das Gespräch"
        ),
        "event": _Words(
            "auf der Veranstaltung",
            "Schön, Sie auf der Veranstaltung kennengelernt zu haben",
            "Schön, Sie auf der Veranstaltung gesehen zu haben",
        ),
        "meeting": _Words(
            "bei unserem Termin", "Schön, Sie kennengelernt zu haben", "Danke für Ihre Zeit"
        ),
    },
    "es": {
        "coffee": _Words(
            "tomando un café", "Un placer conocernos tomando un café", "Gracias por el café"
        ),
        "breakfast": _Words(
            "durante el desayuno",
            "Un placer conocernos durante el desayuno",
            "Gracias por el desayuno",
        ),
        "lunch": _Words(
            "durante el almuerzo",
            "Un placer conocernos durante el almuerzo",
            "Gracias por el almuerzo",
        ),
        "dinner": _Words(
            "durante la cena", "Un placer conocernos durante la cena", "Gracias por la cena"
        ),
        "drinks": _Words(
            "tomando algo", "Un placer conocernos tomando algo", "Un placer vernos tomando algo"
        ),
        "call": _Words("en nuestra llamada", "Gracias por la llamada", "Gracias por la llamada"),
        "intro": _Words(
            "la presentación", "Gracias por la presentación", "Seguimiento de la presentación"
        ),
        "interview": _Words(
            "en la entrevista", "Gracias por la entrevista", "Gracias por la entrevista"
        ),
        "event": _Words(
            "en el evento", "Un placer conocernos en el evento", "Un placer vernos en el evento"
        ),
        "meeting": _Words("en nuestra reunión", "Un placer conocernos", "Gracias por su tiempo"),
    },
    "fr": {
        "coffee": _Words(
            "autour d'un café",
            "Un plaisir de faire votre connaissance autour d'un café",
            "Merci pour le café",
        ),
        "breakfast": _Words(
            "lors du petit-déjeuner",
            "Un plaisir de faire votre connaissance au petit-déjeuner",
            "Merci pour le petit-déjeuner",
        ),
        "lunch": _Words(
            "lors du déjeuner",
            "Un plaisir de faire votre connaissance au déjeuner",
            "Merci pour le déjeuner",
        ),
        "dinner": _Words(
            "lors du dîner",
            "Un plaisir de faire votre connaissance au dîner",
            "Merci pour le dîner",
        ),
        "drinks": _Words(
            "autour d'un verre",
            "Un plaisir de faire votre connaissance autour d'un verre",
            "Un plaisir de vous revoir autour d'un verre",
        ),
        "call": _Words("lors de notre appel", "Merci pour notre appel", "Merci pour notre appel"),
        "intro": _Words(
            "la mise en relation", "Merci pour la mise en relation", "Suite à la mise en relation"
        ),
        "interview": _Words(
            "lors de notre entretien", "Merci pour l'entretien", "Merci pour l'entretien"
        ),
        "event": _Words(
            "lors de l'événement",
            "Un plaisir de faire votre connaissance lors de l'événement",
            "Un plaisir de vous revoir lors de l'événement",
        ),
        "meeting": _Words(
            "lors de notre réunion",
            "Un plaisir de faire votre connaissance",
            "Merci pour votre temps",
        ),
    },
}

# Named events and meetings; {name} is the bare name (English adds its article itself).
_NAMED: dict[str, dict[str, _Words]] = {
    "en": {
        "event": _Words("at {name}", "Great to meet you at {name}", "Good to see you at {name}"),
        "meeting": _Words("at {name}", "Great to meet you at {name}", "Good to see you at {name}"),
    },
    "de": {
        "event": _Words(
            "bei {name}",
            "Schön, Sie bei {name} kennengelernt zu haben",
            "Schön, Sie bei {name} gesehen zu haben",
        ),
        # "auf der Hannover Messe": fairs and conferences named by a feminine German noun.
        "event_auf": _Words(
            "auf der {name}",
            "Schön, Sie auf der {name} kennengelernt zu haben",
            "Schön, Sie auf der {name} gesehen zu haben",
        ),
        "meeting": _Words(
            "beim Termin „{name}“",
            "Schön, Sie beim Termin „{name}“ kennengelernt zu haben",
            "Im Nachgang zum Termin „{name}“",
        ),
    },
    "es": {
        "event": _Words(
            "en {name}", "Un placer conocernos en {name}", "Un placer vernos en {name}"
        ),
        "meeting": _Words(
            "en la reunión «{name}»",
            "Un placer conocernos en la reunión «{name}»",
            "Seguimiento de la reunión «{name}»",
        ),
    },
    "fr": {
        "event": _Words(
            "à {name}",
            "Un plaisir de faire votre connaissance à {name}",
            "Un plaisir de vous revoir à {name}",
        ),
        "meeting": _Words(
            "lors de la réunion « {name} »",
            "Un plaisir de faire votre connaissance lors de la réunion « {name} »",
            "Suite à la réunion « {name} »",
        ),
    },
}


_DE_AUF_DER = re.compile(r"(?:messe|konferenz|tagung|ausstellung|veranstaltung|expo)$")


def _leaks(text: str, names: frozenset[str]) -> bool:
    """Whether a sentence would show a year, a date, a tag or a person's name."""
    if _YEAR.search(text) or _DATE_OR_TIME.search(text) or "[" in text or "<>" in text:
        return True
    return any(w in names for w in re.split(r"\W+", _fold(text)))


def describe_occasion(
    title: str,
    *,
    people: Sequence[str],
    user_name: str,
    language: Language = "en",
    known: bool = False,
) -> Occasion:
    """What the meeting was, in `language`: its kind, name, a phrase and a subject line.

    `people` are the others' display names and/or address local parts, `user_name` the
    user's; none of them ever appears in the result. `known` is True for someone already in
    the address book or mail history: their subject says "see", never "meet".
    """
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}; use one of {LANGUAGES}")
    names = _name_words(people, user_name)
    cleaned = clean_title(title, people=people, user_name=user_name)
    folded = _fold(cleaned)
    kind: Kind
    name: str | None = None
    if meeting_kind(title, "") == "interview":
        kind = "interview"
    elif _INTRO.match(folded):
        kind = "intro"
    elif _is_event(cleaned):
        kind = "event"
        name = _event_name(cleaned)
    else:
        found = _first_kind(folded)
        if found in ("coffee", "breakfast", "lunch", "dinner", "drinks", "call"):
            kind = found  # type: ignore[assignment]  # checked just above
        else:
            kind = "meeting"
            name = _meeting_name(cleaned)

    if name is not None:
        said = name
        if language == "en":
            said = _event_with_article(name) if kind == "event" else _with_article(name)
        key: str = kind
        if language == "de" and kind == "event" and _DE_AUF_DER.search(_fold(name)):
            key = "event_auf"
        words = _NAMED[language][key]
        occasion = Occasion(
            kind=kind,
            name=said if language == "en" else name,
            phrase=words.phrase.format(name=said),
            subject=(words.known if known else words.new).format(name=said),
        )
        if not any(_leaks(t, names) for t in (occasion.phrase, occasion.subject)):
            return occasion
    words = _FIXED[language][kind]
    return Occasion(
        kind=kind, name=None, phrase=words.phrase, subject=words.known if known else words.new
    )


# ---------------------------------------------------------------------------------------------
# relative_day

_WEEKDAYS: dict[str, tuple[str, ...]] = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
}
# today, yesterday, "on <weekday>", last week, longer ago
_DAYS: dict[str, tuple[str, str, str, str, str]] = {
    "en": ("today", "yesterday", "on {day}", "last week", "recently"),
    "de": ("heute", "gestern", "am {day}", "letzte Woche", "vor Kurzem"),
    "es": ("hoy", "ayer", "el {day}", "la semana pasada", "hace poco"),
    "fr": ("aujourd'hui", "hier", "{day}", "la semaine dernière", "récemment"),
}


def relative_day(when: datetime, today: datetime, tz: ZoneInfo, language: Language = "en") -> str:
    """When the meeting was, as a person says it: "today", "yesterday", "on Friday" (two to
    six days ago), "last week" (seven to thirteen days ago), "recently" (longer ago).

    Days are counted in the user's zone `tz`, so a meeting at 23:30 local time is
    "yesterday" the next morning whatever UTC says. A meeting later than `today` (a clock a
    little off) is "today": a draft never says "tomorrow" about a meeting that took place.
    Both datetimes must be aware.
    """
    if when.tzinfo is None or today.tzinfo is None:
        raise ValueError("relative_day needs timezone-aware datetimes")
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}; use one of {LANGUAGES}")
    days = (today.astimezone(tz).date() - when.astimezone(tz).date()).days
    words = _DAYS[language]
    if days <= 0:
        return words[0]
    if days == 1:
        return words[1]
    if days <= 6:
        return words[2].format(day=_WEEKDAYS[language][when.astimezone(tz).weekday()])
    if days <= 13:
        return words[3]
    return words[4]


# ---------------------------------------------------------------------------------------------
# venue_name
#
# A heuristic, on purpose: the address parsers on PyPI are either US-only (usaddress, pyap) or
# need libpostal's ~2 GB model (postal), which cannot be fetched at run time. What we need is
# narrow: the first part of a location string, unless it is a street, a postcode, a room or a
# video link. Good enough, and when unsure we return None ("over coffee" without a place is
# still a fine sentence; "at 66 Mint St" is not).

_URL = re.compile(r"(?:https?://|www\.)\S+|\S+\.(?:com|net|org|io|us|de)/\S*", re.IGNORECASE)
_VIDEO = re.compile(
    r"\b(?:zoom|meet\.google\.com|google meet|hangouts?|microsoft teams|teams meeting|teams|"
    r"webex|whereby|gotomeeting|goto meeting|bluejeans|skype|jitsi|facetime|chime|"
    r"phone|telefon|t[eé]l[eé]phone|tel[eé]fono|dial-in|conference bridge|online|virtual|"
    r"remote|video ?call|videoconferencia|visio(?:conf[eé]rence)?)\b",
    re.IGNORECASE,
)
# Internal rooms: not a place to mention to an outsider.
_ROOM = re.compile(
    # A room word with a number ("Room 4.12", "Building 40/Floor 2", "Raum 3.14"), or first
    # ("Salle Voltaire", "Room Einstein")
    r"\b(?:room|rm|raum|sala|salle|building|bldg|geb[aä]ude|floor|fl|etage|stock|og|eg|"
    r"planta|piso|[eé]tage|b[aâ]timent|wing|desk|level)\b\s*[-#:.]?\s*[A-Z]?\d|"
    r"^(?:room|raum|sala|salle|meeting|besprechung)\b|"
    # "5th floor", "3. OG", "2e étage"
    r"\b\d+(?:st|nd|rd|th|\.|e|er|º|ª)?\s*(?:floor|og|etage|[eé]tage|stock|planta|piso)\b|"
    # Rooms by what they are
    r"\b(?:boardroom|board room|conf(?:erence)? room|meeting room|besprechungsraum|"
    r"konferenzraum|sitzungssaal|huddle(?: room)?|phone booth|focus room|kitchen|office|"
    r"b[uü]ro|sala de reuniones|salle de r[eé]union)\b|"
    # A capacity, as room resources show it: "Conf Room B (8)", "Berlin-HQ-3-Einstein (12)"
    r"\(\s*\d+\s*\)|^[A-Z]{2,}-[\w-]+-\d+",
    re.IGNORECASE,
)
_STREET_WORD = re.compile(
    r"\b(?:st|street|ave|avenue|rd|road|blvd|boulevard|bd|dr|drive|ln|lane|way|ct|court|pl|"
    r"place|sq|square|hwy|pkwy|str|stra[sß]e|weg|gasse|allee|damm|ufer|ring|chaussee|"
    r"calle|c/|avenida|av|avda|paseo|carrer|rua|rue|chemin|quai|impasse|all[eé]e|via|viale|"
    r"piazza|plaza|platz)\b\.?|(?:stra[sß]e|str\.|weg|gasse|allee|damm|ufer|platz)\b",
    re.IGNORECASE,
)
_POSTCODE_CITY = re.compile(r"^(?:[A-Z]{1,2}-)?\d{4,5}\b|^\d{3}\s?\d{2}\b|^[A-Z]{1,2}\d", re.I)


_NO_PLACE = frozenset(
    ("tbd", "tba", "tbc", "n/a", "na", "none", "various", "see description", "see below",
     "see invite", "siehe beschreibung", "siehe einladung", "your place", "my place",
     "your office", "my office", "our office", "bei ihnen", "bei uns", "à définir", "por definir")
)  # fmt: skip


def _is_street(part: str) -> bool:
    if re.match(r"^\d", part):  # "66 Mint St", "1600 Amphitheatre Pkwy"
        return True
    if _POSTCODE_CITY.match(part):
        return True
    return bool(re.search(r"\d", part) and _STREET_WORD.search(part))


def venue_name(location: str) -> str | None:
    """The venue's short name ("Blue Bottle Coffee"), never a street, a room or a link.

    "Blue Bottle Coffee, 66 Mint St, San Francisco, CA 94103" -> "Blue Bottle Coffee";
    "66 Mint St, San Francisco" -> None; "Conf Room B (8)" -> None; "Zoom" -> None.
    """
    text = one_line(location, 300)
    for chunk in re.split(r"[;\n]|\s+\|\s+", text):
        chunk = chunk.strip()
        if not chunk or _URL.search(chunk) or _VIDEO.search(chunk) or "@" in chunk:
            continue
        first = chunk.split(",", 1)[0].strip()
        first = re.sub(r"\s*\([^()]*\)\s*$", "", first).strip()  # "(Mint Plaza)"
        if not first or _ROOM.search(first) or _is_street(first):
            return None
        if not any(ch.isalpha() for ch in first) or len(first) > 60:
            return None
        if _fold(first).strip(".!?") in _NO_PLACE:
            return None
        return first
    return None


# ---------------------------------------------------------------------------------------------
# detect_language

# The four languages we write in, and the ones most easily mistaken for them: a note in
# Italian must not be taken for Spanish, nor Dutch for German.
_DETECT_AMONG = ("en", "de", "es", "fr", "it", "pt", "nl", "ca", "ro", "sv", "da", "no",
                 "pl", "cs", "tr", "id", "fi", "hu")  # fmt: skip
_MIN_WORDS = 4
_MIN_PROBABILITY = 0.5
_NOT_WORDS = re.compile(r"https?://\S+|www\.\S+|\S+@\S+|\[\[.*?\]\]|\d+", re.IGNORECASE)


@functools.cache
def _classifier() -> Callable[[str], tuple[str, float]]:
    """py3langid's identifier, loaded once on first use (about 0.6 s)."""
    from py3langid.langid import (  # type: ignore[import-untyped]  # no type information
        MODEL_FILE,
        LanguageIdentifier,
    )

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(_DETECT_AMONG))

    def classify(text: str) -> tuple[str, float]:
        lang, probability = identifier.classify(text)
        return str(lang), float(probability)

    return classify


def detect_language(text: str) -> Language | None:
    """The language of a note, among en/de/es/fr; None when too short or not sure.

    Links, addresses and numbers are left out before counting words; fewer than four words,
    a language other than these four, or a probability under 0.5 gives None.
    """
    words = [w for w in _NOT_WORDS.sub(" ", text).split() if sum(c.isalpha() for c in w) >= 2]
    if len(words) < _MIN_WORDS:
        return None
    lang, probability = _classifier()(" ".join(words))
    if probability < _MIN_PROBABILITY:
        return None
    for known in LANGUAGES:
        if lang == known:
            return known
    return None


# ---------------------------------------------------------------------------------------------
# meeting_kind

_INTERVIEW_TITLE = re.compile(
    r"(?<!user )(?<!customer )(?<!research )(?<!discovery )(?<!press )(?<!media )"
    r"(?<!podcast )(?<!expert )(?<!kunden)(?<!nutzer)\binterview\b|"
    r"\b(?:vorstellungsgesprach|bewerbungsgesprach|bewerbergesprach|entrevista de trabajo|"
    r"entretien d'embauche|entretien de recrutement|entretien d’embauche|phone screen|"
    r"technical screen|onsite loop|hiring manager (?:screen|chat|call))\b|"
    r"^(?:entrevista|entretien)\s*[:\-–]|"
    r"^entrevista\b(?!.*\b(?:cliente|usuario|prensa|radio|podcast)\b)",
)
_INTERVIEW_NOTES = re.compile(
    r"\b(?:candidate|kandidat(?:in)?|candidato|candidata|candidat|scorecard|"
    r"(?:strong |lean |leaning )?(?:no )?hire\b(?:/no hire)?|hire/no hire|"
    r"no[- ]hire|interview feedback)\b"
)
_NOT_CANDIDATE = re.compile(r"\bcandidate (?:solutions?|features?|list|vendors?|tools?)\b")
_PITCH_TITLE = re.compile(
    r"\bdemo of\b|\b(?:product|platform|software|tool|sales) demo\b|\bsales (?:call|pitch)\b|"
    r"\bpitch from\b|\bvendor (?:demo|call|pitch|meeting)\b|\bproduktdemo von\b|"
    r"\bdemo de (?:la plataforma|producto)\b|\bdemo (?:du|de la) (?:produit|plateforme)\b"
)
_PITCH_NOTES = re.compile(
    r"\bthey pitched\b|\bpitched us\b|\bvendor demo\b|\bsales pitch\b|\btheir sales rep\b|"
    r"\bthey demoed\b|\bsales rep\b|\bhaben uns (?:ihr|ihre) \w+ vorgestellt\b"
)
# The user shows or sells: "Demo for Acme", "our platform demo".
_USER_GIVES = re.compile(
    r"\bfor\b|\bfur\b|\bpara\b|\bpour\b|\bour\b|\bunser\w*|\bnuestr\w*|\bnotre\b"
)


def meeting_kind(title: str, notes: str) -> Literal["interview", "vendor_pitch"] | None:
    """ "interview" for a job interview, "vendor_pitch" for a vendor selling to the user.

    Conservative: a demo the user gives ("Demo for Acme") is not a pitch, a user-research
    interview is not a job interview, and when unsure the answer is None.
    """
    folded_title = _fold(one_line(title, 300))
    folded_notes = _fold(notes or "")
    if _INTERVIEW_TITLE.search(folded_title):
        return "interview"
    if _INTERVIEW_NOTES.search(folded_notes) and not _NOT_CANDIDATE.search(folded_notes):
        return "interview"
    if _PITCH_TITLE.search(folded_title) and not _USER_GIVES.search(folded_title):
        return "vendor_pitch"
    if _PITCH_NOTES.search(folded_notes):
        return "vendor_pitch"
    return None

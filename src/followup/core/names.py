"""People's names as calendars give them, made fit for a greeting and a contact card.

Display names arrive unsanitised: "Doe, Jane (via Google Calendar)", "SMITH, JOHN",
"jane.doe@acme.com", "Acme Corp", names with quotes, tabs or even line breaks in them. A wrong
greeting ("Hello Corp,", "Hello SMITH,") is worse than a neutral one, so when a name cannot be
trusted the greeting is neutral ("Hello,") and the card keeps only what is safe.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


def _wordset(text: str) -> frozenset[str]:
    """A set from a whitespace-separated word list (long lists read better as text)."""
    return frozenset(text.split())


# Longest display name we keep: beyond this it is not a name but pasted text.
_MAX_NAME = 80

_QUOTES = "\"'`“”‘’„‚«»‹›「」"
# Bidi embeddings/overrides/isolates can make a name display as something else; ZWJ/ZWNJ are
# kept because some scripts need them.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_VIA = re.compile(
    r"\s*[(\[]?\s*\bvia\s+(google calendar|google|outlook|zoom|calendly)\b\s*[)\]]?", re.IGNORECASE
)
_SPACES = re.compile(r"\s+")

# Words that make a "name" a company, a team or a function rather than a person.
_ORG_WORDS = _wordset(
    """inc inc. incorporated ltd ltd. limited llc llp plc corp corp. corporation company co co.
    gmbh ag sa s.a. sas sarl bv b.v. nv n.v. oy ab as a/s kk k.k. pty srl s.r.l. spa s.p.a.
    group holding holdings team sales support office admin administrator info marketing hr
    recruiting billing accounts service services department dept desk helpdesk reception
    foundation university institute association solutions technologies labs consulting"""
)
# Post-nominal letters after a comma: "Jane Doe, PhD" is not "PhD Jane Doe".
_SUFFIXES = _wordset(
    "phd ph.d. md m.d. mba cpa esq esq. jr jr. sr sr. ii iii iv pe dds rn msc bsc ma ba"
)
# Titles before a name: greet "Hello Jane," for "Dr. Jane Doe", never "Hello Dr.,".
_HONORIFICS = _wordset("dr prof mr mrs ms mx miss sir dame herr frau mme mlle m sr sra")
_PARENS = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
_INITIAL = re.compile(r"^\w\.?$|^(\w\.){2,}$")


@dataclass(frozen=True, slots=True)
class PersonName:
    """What we know of a person's name, cleaned.

    `display` is safe for a header or a card (one line, no controls). `greeting` is None when
    the name is not reliable enough to greet with: then greet neutrally.
    """

    display: str | None
    given: str | None
    family: str | None
    greeting: str | None

    @property
    def reliable(self) -> bool:
        return self.greeting is not None


def clean_display_name(raw: str | None) -> str | None:
    """One printable line: no CR/LF/controls, no wrapping quotes, no "via Google"."""
    if not raw:
        return None
    text = unicodedata.normalize("NFC", raw)
    text = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
        for ch in text
        if ch not in _BIDI_CONTROLS
    )
    text = _VIA.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    # Quotes only when they wrap the whole name or dangle: O'Brien keeps its apostrophe.
    while len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    text = text.strip(_QUOTES.replace("'", "")).strip()
    if len(text) > _MAX_NAME:
        text = text[:_MAX_NAME].rstrip()
    return text or None


def _has_letters(word: str) -> bool:
    return any(ch.isalpha() for ch in word)


def _is_caseless_script(text: str) -> bool:
    """CJK, Thai, Arabic, Hebrew...: scripts without letter case, often without spaces,
    where first/last order cannot be guessed from the text."""
    return any(ch.isalpha() and not ch.isupper() and not ch.islower() for ch in text)


def _looks_like_org(words: list[str]) -> bool:
    return any(w.lower().strip(",") in _ORG_WORDS for w in words)


def _shouting(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha() and (ch.isupper() or ch.islower())]
    return len(letters) > 3 and all(ch.isupper() for ch in letters)


def _is_initial(word: str) -> bool:
    return bool(_INITIAL.match(word))


def _untrustworthy(name: str) -> bool:
    words = name.split(" ")
    if "@" in name or "://" in name or not _has_letters(name):
        return True
    if _looks_like_org(words) or _shouting(name):
        return True
    if any(ch.isdigit() for ch in name):
        return True
    # "jane.doe", "j_doe": an address's local part, not a name.
    return len(words) == 1 and any(ch in name for ch in "._+") and not _is_initial(name)


def parse_name(raw: str | None) -> PersonName:
    """Clean a display name and split it into given and family names where that is safe."""
    display = clean_display_name(raw)
    if display is None:
        return PersonName(None, None, None, None)
    if _untrustworthy(display):
        # Keep it on the card only if it is at least not an address.
        keep = None if "@" in display else display
        return PersonName(keep, None, None, None)

    # "Jane Doe (Acme)", "Dr. Jane Doe": the parenthetical and the title are not names.
    core = _SPACES.sub(" ", _PARENS.sub(" ", display)).strip()
    words = core.split(" ")
    while len(words) > 1 and words[0].lower().rstrip(".") in _HONORIFICS:
        words.pop(0)
    core = " ".join(words)
    if not core:
        return PersonName(display, None, None, None)
    parts = [p.strip() for p in core.split(",")]
    while len(parts) > 1 and parts[-1].lower() in _SUFFIXES:
        parts.pop()
    if len(parts) > 2 or any(not p for p in parts):
        return PersonName(display, None, None, None)
    if len(parts) == 2:
        family, given = parts
        # "Doe, Jane" is a reliable pattern; "Jane Doe, Acme" or "Doe, J." is not.
        if " " in family or _is_initial(given.split(" ")[0]):
            return PersonName(display, None, None, None)
        display = f"{given} {family}"
    else:
        given_family = parts[0].split(" ")
        given, family = given_family[0], " ".join(given_family[1:])

    if _is_caseless_script(display):
        # Name order cannot be told from the text: greet with the whole name, as written.
        return PersonName(display, None, None, display)
    first = given.split(" ")[0]
    if _is_initial(first):
        return PersonName(display, None, None, None)
    return PersonName(display, given or None, family or None, first)


# Mail providers anyone can sign up to: their domain says nothing about an organisation.
_CONSUMER_DOMAINS = _wordset(
    """gmail.com googlemail.com outlook.com hotmail.com hotmail.co.uk hotmail.fr live.com
    live.co.uk msn.com yahoo.com yahoo.co.uk yahoo.fr yahoo.de yahoo.co.jp ymail.com
    rocketmail.com icloud.com me.com mac.com aol.com proton.me protonmail.com pm.me gmx.com
    gmx.de gmx.net gmx.at gmx.ch web.de t-online.de freenet.de yandex.ru yandex.com ya.ru
    mail.ru bk.ru inbox.ru list.ru rambler.ru qq.com 163.com 126.com sina.com foxmail.com
    zoho.com zohomail.com fastmail.com fastmail.fm hey.com tutanota.com tuta.io orange.fr
    wanadoo.fr free.fr laposte.net sfr.fr libero.it virgilio.it alice.it naver.com daum.net
    hanmail.net comcast.net verizon.net att.net sbcglobal.net bellsouth.net btinternet.com
    sky.com virginmedia.com shaw.ca rogers.com bigpond.com optusnet.com.au seznam.cz wp.pl
    o2.pl interia.pl"""
)
# Second-level labels under country codes (acme.co.uk, acme.com.au). Only used to guess a
# display name for the organisation, so a short list of the common ones is enough.
_SECOND_LEVEL = _wordset("co com org net ac gov edu ne or go gob nic mil ltd plc")


def organization_from_email(email: str) -> str | None:
    """A readable organisation name from the address's domain: acme-corp.com -> "Acme Corp".

    None for consumer mail providers and for anything that is not an address.
    """
    _, at, domain = email.strip().lower().rpartition("@")
    if not at or "." not in domain or domain in _CONSUMER_DOMAINS:
        return None
    labels = [label for label in domain.split(".") if label]
    if len(labels) < 2:
        return None
    labels = labels[:-1]  # the top-level domain
    if len(labels) >= 2 and labels[-1] in _SECOND_LEVEL and len(domain.rsplit(".", 1)[1]) == 2:
        labels = labels[:-1]
    label = labels[-1]
    if label.startswith("xn--"):
        try:
            label = label.encode("ascii").decode("idna")
        except UnicodeError:
            return None
    words = [w for w in re.split(r"[-_]+", label) if w]
    if not words:
        return None
    # A short all-letter label on its own is usually an acronym (ibm, bbc).
    if len(words) == 1 and len(words[0]) <= 3 and words[0].isalpha():
        return words[0].upper()
    return " ".join(w.capitalize() for w in words)

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

from nameparser import HumanName
from nameparser.config import CONSTANTS


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
    if _looks_like_org(words):
        return True
    if any(ch.isdigit() for ch in name):
        return True
    # "jane.doe", "j_doe": an address's local part, not a name.
    return len(words) == 1 and any(ch in name for ch in "._+") and not _is_initial(name)


def _family_is_one_surname(family: str) -> bool:
    """"Doe" or "van der Berg": one surname, with lower-case particles before it. "Jane Doe"
    before a comma is not a surname but a name followed by something else ("Jane Doe, Acme")."""
    words = family.split(" ")
    return all(w.lower() in CONSTANTS.prefixes for w in words[:-1])


def _split(core: str) -> HumanName:
    """The name's parts, by nameparser (titles, particles, suffixes, "Last, First")."""
    name = HumanName(core)
    if _shouting(core):
        name.capitalize(force=True)  # "SMITH, JOHN" -> John Smith, "VAN DER BERG" -> van der Berg
    return name


def parse_name(raw: str | None) -> PersonName:
    """Clean a display name and split it into given and family names where that is safe.

    The split is nameparser's; what decides whether to trust it is ours: an address, a
    company, digits, a lone initial or a comma that does not mean "Last, First" make the
    greeting neutral. Names in capitals are re-cased ("SMITH, JOHN" greets "John") when
    there are at least two of them: one word in capitals may as well be an acronym.
    """
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
    titled = False
    while len(words) > 1 and words[0].lower().rstrip(".") in _HONORIFICS:
        words.pop(0)
        titled = True
    core = " ".join(words)
    if not core or (titled and len(words) == 1):
        # "Dr. Smith": greeting "Hello Smith," would be wrong, "Hello Dr.," too.
        return PersonName(display, None, None, None)
    if _is_caseless_script(display):
        # Name order cannot be told from the text: greet with the whole name, as written.
        return PersonName(display, None, None, display)
    parts = [p.strip() for p in core.split(",")]
    while len(parts) > 1 and parts[-1].lower() in _SUFFIXES:
        parts.pop()
    if len(parts) > 2 or any(not p for p in parts):
        return PersonName(display, None, None, None)
    if len(parts) == 2:
        family, given = parts
        # "Doe, Jane" is a reliable pattern; "Jane Doe, Acme" or "Doe, J." is not.
        if not _family_is_one_surname(family) or _is_initial(given.split(" ")[0]):
            return PersonName(display, None, None, None)
    core = ", ".join(parts)
    if _shouting(core) and len(core.replace(",", " ").split()) < 2:
        return PersonName(display, None, None, None)
    name = _split(core)
    given, family = name.first.strip(), name.last.strip()
    if not given or _is_initial(given):
        return PersonName(display, None, None, None)
    if len(parts) == 2 or _shouting(display):
        # Written "Last, First" or in capitals: show it as it is said.
        display = " ".join(p for p in (name.first, name.middle, name.last) if p)
    return PersonName(display, given, family or None, given)


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
    o2.pl interia.pl posteo.de posteo.net mailbox.org hushmail.com gmx.us mail.com
    email.com outlook.de outlook.fr hotmail.de hotmail.it hotmail.es live.de live.fr live.nl
    yahoo.es yahoo.it yahoo.ca yahoo.com.au yahoo.co.in"""
)
# Brands whose every country domain is webmail: gmail.*, hotmail.*, yahoo.*, gmx.*...
_CONSUMER_BRANDS = _wordset(
    """gmail googlemail hotmail outlook yahoo ymail gmx protonmail proton posteo tutanota
    yandex icloud aol"""
)
# Addresses that relay to someone else (iCloud's iMIP relay, Apple's hidden addresses),
# calendars rather than people (Google group and resource calendars), and Microsoft 365
# tenants' default domains: none of them names the person's organisation.
_NOT_AN_ORGANISATION = _wordset(
    """imip.me.com privaterelay.appleid.com calendar.google.com onmicrosoft.com
    mail.onmicrosoft.com"""
)
# Labels that are top-level domains or generic words, never an organisation's name when left
# over ("ME" from imip.me.com, "CO" from co.uk).
_TLD_LIKE = _wordset(
    """com net org info biz co io me tv ai app dev eu uk us de fr mail email online site web
    ac gov edu mil int ltd plc"""
)
# Second-level labels under country codes (acme.co.uk, acme.com.au). Only used to guess a
# display name for the organisation, so a short list of the common ones is enough.
_SECOND_LEVEL = _wordset("co com org net ac gov edu ne or go gob nic mil ltd plc")


def _is_under(domain: str, domains: frozenset[str]) -> bool:
    """`domain` is one of `domains` or below one (x.mail.onmicrosoft.com, imip.me.com)."""
    labels = domain.split(".")
    return any(".".join(labels[i:]) in domains for i in range(len(labels)))


def organization_from_email(email: str) -> str | None:
    """A readable organisation name from the address's domain: acme-corp.com -> "Acme Corp".

    Only for a company's own domain: None for webmail (gmail, outlook, icloud, gmx, proton,
    posteo...), relays (imip.me.com), Microsoft 365 tenant domains (*.onmicrosoft.com), a
    label that is only a top-level domain ("me"), and anything that is not an address.
    """
    _, at, domain = email.strip().lower().rpartition("@")
    domain = domain.strip(".")
    if not at or "." not in domain or _is_under(domain, _CONSUMER_DOMAINS | _NOT_AN_ORGANISATION):
        return None
    labels = [label for label in domain.split(".") if label]
    if len(labels) < 2:
        return None
    brand = labels[-3] if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL else labels[-2]
    if brand in _CONSUMER_BRANDS:
        return None
    labels = labels[:-1]  # the top-level domain
    if len(labels) >= 2 and labels[-1] in _SECOND_LEVEL and len(domain.rsplit(".", 1)[1]) == 2:
        labels = labels[:-1]
    label = labels[-1]
    if label in _TLD_LIKE:
        return None
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

"""The first note after a meeting, and the block that reminds the user to send it.

PLAYBOOK §2. The event description is the user's private material: it is read (core.material)
for what may safely reach the other side (text the user marked shareable, the objects of their
promises, the purpose of a next meeting) and goes whole only onto the block and the card,
which only the user sees. Nothing else of it is ever given to a draft template.

The words around those facts are a person's: the occasion as a phrase ("over coffee at Blue
Bottle yesterday"), never the raw calendar title; days relative to the send day, never a year;
no "good to meet you" to someone already known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from followup import keys
from followup.core.material import Material, Promise
from followup.core.mime import display_name
from followup.core.names import organization_from_email, parse_name
from followup.core.occasion import (
    LANGUAGES,
    Language,
    clean_title,
    describe_occasion,
    detect_language,
    relative_day,
    venue_name,
)
from followup.core.slottext import format_day, format_slot
from followup.core.text import format_short_date, meeting_place, one_line
from followup.model import Attendee, BlockPayload, DraftPayload, Interval, Meeting

if TYPE_CHECKING:
    from followup.core.compose import Composer

FIRST_TOUCH_TEMPLATES: dict[str, str] = {
    "en": "first_touch.txt.j2",
    "de": "first_touch.de.txt.j2",
    "es": "first_touch.es.txt.j2",
    "fr": "first_touch.fr.txt.j2",
}
# What a block's description may quote of the private notes: enough for any real note.
NOTES_ON_BLOCK = 4000


def draft_link_marker(key: str) -> str:
    """Where a block's description gets the link to a draft. The engine replaces it when it
    writes the block (a Gmail, Outlook or Maildir link is only known once the draft exists)."""
    return f"[draft {key}]"


@dataclass(frozen=True, slots=True)
class Recipient:
    """One person a first note goes to, and what the user's address book or mail knew of them
    before this meeting."""

    attendee: Attendee
    known: bool = False  # in the address book or mail history before the meeting
    card_name: str | None = None  # the name on their address-book card, when they have one
    card_given_name: str | None = None


@dataclass(frozen=True, slots=True)
class FirstNote:
    """Everything a first-touch draft is made of."""

    meeting: Meeting
    recipients: tuple[Recipient, ...]
    material: Material
    slots: tuple[Interval, ...]
    their_tz: ZoneInfo | None  # the other side's zone when it is not the user's
    language: Language
    key: str


@dataclass(frozen=True, slots=True)
class BlockDraft:
    """A draft as its block lists it."""

    key: str
    to: tuple[str, ...]  # "Jane Doe, Acme <jane@acme.example>"
    subject: str


@dataclass(frozen=True, slots=True)
class BlockItem:
    """One meeting's part of a first-touch block."""

    meeting: Meeting
    material: Material
    drafts: tuple[BlockDraft, ...]
    promises: tuple[Promise, ...]
    offered: tuple[str, ...]  # the proposed slots, as written in the drafts
    others: tuple[str, ...]  # who else was there, for the user's memory


def person_label(email: str, raw_name: str | None) -> str:
    """ "Jane Doe, Acme": the readable name (the address when the name is unusable), with the
    organisation when the domain gives one."""
    parsed = parse_name(raw_name)
    return label_of(email, parsed.display if parsed.greeting is not None else None)


def label_of(email: str, reliable_name: str | None) -> str:
    """A name known to be usable (else the address), with the organisation its domain gives
    when the name does not already say it."""
    who = reliable_name or email
    org = organization_from_email(email)
    if org and org.lower() not in who.lower():
        return f"{who}, {org}"
    return who


def note_language(material: Material, meeting: Meeting, default: Language) -> Language:
    """The language the relationship is held in: the user's notes show it (a German note
    about a German contact), else the meeting's own title; else the user's default."""
    for text in (material.shareable, material.private, meeting.title):
        found = detect_language(text) if text.strip() else None
        if found is not None:
            return found
    return default


def _greetings(recipients: Sequence[Recipient]) -> tuple[list[str], list[str]]:
    """First names and full names to greet with; both empty when any name is unreliable
    (a neutral "Hello," beats greeting one person of three by name)."""
    given: list[str] = []
    full: list[str] = []
    for r in recipients:
        parsed = parse_name(r.attendee.name)
        first = r.card_given_name or parsed.greeting
        whole = r.card_name or (parsed.display if parsed.greeting else None)
        if not first or not whole:
            return [], []
        given.append(first)
        full.append(whole)
    return given, full


_AND = {"en": "and", "de": "und", "es": "y", "fr": "et"}


def join_names(names: Sequence[str], language: str) -> str:
    """ "Jane", "Jane and Bob", "Peter, Samir and Joanna" (in the draft's language)."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} {_AND.get(language, 'and')} {names[-1]}"


def _subject(promises: Sequence[Promise], occasion_subject: str) -> str:
    """The promised item when there is one ("The Kalman filter article"), else the occasion."""
    sent = next((p.item for p in promises if p.kind == "send"), None)
    if sent:
        return sent[:1].upper() + sent[1:]
    return occasion_subject


def first_touch_draft(
    composer: Composer,
    note: FirstNote,
    *,
    now: datetime,
    tz: ZoneInfo,
    booking_url: str,
    slot_minutes: int,
) -> DraftPayload:
    """The first note (PLAYBOOK §2) to the people of one meeting who share a draft."""
    meeting, material, lang = note.meeting, note.material, note.language
    known = all(r.known for r in note.recipients)
    names: list[str] = []
    for a in _everyone(meeting):
        # "van der Berg, Anna" is written "Anna van der Berg" in a title: both must go.
        names += [n for n in (a.name, parse_name(a.name).display, a.email.partition("@")[0])
                  if n]
    occasion = describe_occasion(
        meeting.title, people=names, user_name=composer.user.name, language=lang, known=known
    )
    venue = None
    in_person = meeting_place(meeting) not in (None, "video call")
    if in_person and occasion.kind not in ("event", "call"):
        venue = venue_name(meeting.location)
    given, full = _greetings(note.recipients)
    promises = [p for p in material.promises if p.kind in ("send", "intro")]
    context: dict[str, Any] = {
        "language": lang,
        "greeting_names": given,
        "greeting_full_names": full,
        "greeting": join_names(given, lang),
        "greeting_full": join_names(full, lang),
        "many": len(note.recipients) > 1,
        "known": known,
        "occasion": occasion,
        "venue": venue,
        "when": relative_day(meeting.start, now, tz, lang),
        "shareable": material.shareable,
        "promises": promises,
        "next_step": material.next_step,
        "slots": [format_slot(s, tz, note.their_tz, lang) for s in note.slots],
        "slot_minutes": slot_minutes,
        "booking_url": booking_url,
        "user": composer.user_context(lang),
    }
    return DraftPayload(
        to=tuple((_display_name(r), r.attendee.email) for r in note.recipients),
        subject=one_line(_subject(promises, occasion.subject), 200),
        body=composer.render(FIRST_TOUCH_TEMPLATES[lang], context),
        message_id=keys.message_id(note.key),
        from_addr=composer.from_address(),
    )


def _everyone(meeting: Meeting) -> list[Attendee]:
    people = list(meeting.attendees)
    if meeting.organizer is not None:
        people.append(meeting.organizer)
    return people


def _display_name(r: Recipient) -> str | None:
    """The name in To: the card's, else the invite's as a person writes it ("John Smith" for
    "SMITH, JOHN"), else none (an unreliable name is worse than the bare address)."""
    parsed = parse_name(r.attendee.name)
    return display_name(r.card_name or (parsed.display if parsed.greeting else None))


def occasion_label(meeting: Meeting) -> str:
    """How a block names a meeting for the user: an event's name ("FactoryTech"), else its
    title without tags and the other side's names ("[EXT] Re: Coffee with Jane" is
    "Coffee"); the user's own calendar, so no phrasing, just a name they recognise."""
    names: list[str] = []
    for a in _everyone(meeting):
        names += [n for n in (a.name, parse_name(a.name).display) if n]
    occasion = describe_occasion(meeting.title, people=names, user_name="")
    if occasion.kind == "event" and occasion.name:
        return one_line(occasion.name, 80)
    cleaned = clean_title(meeting.title, people=names)
    return one_line(cleaned, 80) or one_line(meeting.title, 80) or "a meeting"


def block_summary(items: Sequence[BlockItem]) -> str:
    drafts = [d for item in items for d in item.drafts]
    if len(drafts) == 1 and len(drafts[0].to) == 1:
        who = drafts[0].to[0].rsplit(" <", 1)[0]
        return one_line(f"Send follow-up to {who}", 200)
    names = []
    for item in items:
        label = occasion_label(item.meeting)
        if label not in names:
            names.append(label)
    where = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    count = len(drafts)
    noun = "follow-up" if count == 1 else "follow-ups"
    return one_line(f"Send {count} {noun} from {where}", 200)


def first_touch_block(
    composer: Composer,
    items: Sequence[BlockItem],
    *,
    start: datetime,
    end: datetime,
    conflict: bool,
    where_drafts_are: str,
    tz: ZoneInfo,
    late: bool = False,
) -> BlockPayload:
    """The block on the user's calendar for the first notes of one or more meetings: where
    each draft is, what was promised, the times offered, who else was there, and the notes."""
    if not items or not any(item.drafts for item in items):
        raise ValueError("a first-touch block needs at least one draft")
    context = {
        "items": [
            {
                "label": occasion_label(item.meeting),
                "day": format_day(item.meeting.start, tz),
                "date": format_short_date(item.meeting.start, tz),
                "drafts": [
                    {"to": d.to, "subject": d.subject, "link": draft_link_marker(d.key)}
                    for d in item.drafts
                ],
                "promises": item.promises,
                "offered": item.offered,
                "others": item.others,
                "notes": _cap(item.material.private, NOTES_ON_BLOCK),
            }
            for item in items
        ],
        "minutes": int((end - start).total_seconds() // 60),
        "where_drafts_are": where_drafts_are,
        "conflict": conflict,
        "late": late,
    }
    return BlockPayload(
        summary=block_summary(items),
        description=composer.render("first_touch_block.txt.j2", context),
        start=start,
        end=end,
        conflict=conflict,
        draft_keys=tuple(d.key for item in items for d in item.drafts),
    )


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def supported(language: str) -> Language:
    return next((lang for lang in LANGUAGES if lang == language), "en")

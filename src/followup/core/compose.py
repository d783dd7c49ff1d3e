"""Drafts and block texts from Jinja2 templates, and drafts as RFC 5322 messages.

The shipped templates live in followup/templates; a file of the same name in the user's
templates folder overrides one. Templates only shape the body: headers (To, Subject) are built
here from cleaned one-line values, so nothing a calendar invite says can add a header line.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import jinja2.sandbox

from followup import keys
from followup.config import ScheduleConfig, UserConfig
from followup.core.drafting import (
    NOTES_ON_BLOCK,
    BlockItem,
    FirstNote,
    draft_link_marker,
    first_touch_block,
    first_touch_draft,
    label_of,
)
from followup.core.later import LaterTouch, later_touch
from followup.core.mime import display_name
from followup.core.mime import render_mime as render_mime  # re-exported: its old home
from followup.core.names import PersonName, organization_from_email, parse_name
from followup.core.state import PersonState
from followup.core.text import (
    format_date,
    format_short_date,
    meeting_place,
    meeting_title,
    one_line,
)
from followup.model import BlockPayload, DraftPayload, Interaction, Meeting

FIRST_TOUCH_TEMPLATE = "first_touch.txt.j2"
NURTURE_TEMPLATE = "nurture.txt.j2"
NURTURE_TEMPLATES: dict[str, str] = {
    "en": NURTURE_TEMPLATE,
    "de": "nurture.de.txt.j2",
    "es": "nurture.es.txt.j2",
    "fr": "nurture.fr.txt.j2",
}
BLOCK_TEMPLATE = "block.txt.j2"
FIRST_TOUCH_BLOCK_TEMPLATE = "first_touch_block.txt.j2"
TEMPLATES = (
    FIRST_TOUCH_TEMPLATE, "first_touch.de.txt.j2", "first_touch.es.txt.j2",
    "first_touch.fr.txt.j2", NURTURE_TEMPLATE, "nurture.de.txt.j2", "nurture.es.txt.j2",
    "nurture.fr.txt.j2", BLOCK_TEMPLATE, FIRST_TOUCH_BLOCK_TEMPLATE,
)


# How much of the private notes a contact card's note carries (one line).
CARD_NOTES = 600


class TemplateProblem(ValueError):
    """A template that cannot be loaded or rendered (usually a user's override)."""


def placeholder(text: str) -> str:
    """A marker the user cannot miss and must replace before sending."""
    return f"[[ {text} ]]"


@dataclass(frozen=True, slots=True)
class Person:
    """A person as templates and block texts see them."""

    email: str
    name: str | None  # cleaned display name, None when we only know the address
    greeting: str | None  # a name to greet with; None: greet neutrally
    organization: str | None

    @classmethod
    def of(cls, email_addr: str, raw_name: str | None) -> Person:
        parsed: PersonName = parse_name(raw_name)
        return cls(email_addr, parsed.display, parsed.greeting, organization_from_email(email_addr))

    @property
    def label(self) -> str:
        """ "Jane Doe, Acme": a readable name (the address when the name is not usable),
        with the organisation when the domain gives one."""
        return label_of(self.email, self.name if self.greeting is not None else None)


def contact_note(
    meeting: Meeting, tz: ZoneInfo, *, again: bool = False, notes: str = ""
) -> str:
    """ "Met at <title>, <date>[ (<place>)][. Notes: ...]": one line for the address book.

    `again`: "Met again at ...", for someone whose card already tells of an earlier meeting.
    `notes`: the user's private notes from the event (the card is the user's own), flattened.
    """
    place = meeting_place(meeting)
    met = "Met again at" if again else "Met at"
    note = f"{met} {meeting_title(meeting)}, {format_short_date(meeting.start, tz)}"
    note = f"{note} ({place})" if place else note
    if notes.strip():
        note = f"{one_line(note, 300)}. Notes: {one_line(notes, CARD_NOTES)}"
    return one_line(note, 300 + CARD_NOTES + 10)


@functools.lru_cache(maxsize=16)
def _environment(templates_dir: str | None) -> jinja2.sandbox.ImmutableSandboxedEnvironment:
    """One Jinja2 environment per templates folder, shared by every Composer: it keeps the
    compiled templates (compiling is most of a draft's CPU), and notices an edited template
    by its mtime (auto_reload). A company worker builds a Composer per sync."""
    loaders: list[jinja2.BaseLoader] = []
    if templates_dir is not None:
        loaders.append(jinja2.FileSystemLoader(templates_dir))
    loaders.append(jinja2.PackageLoader("followup", "templates"))
    # Sandboxed: a template in the user's folder must not reach Python (os.popen via
    # cycler.__init__.__globals__); immutable: nor change the values it is given.
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        # Plain-text mail, not HTML: escaping would put "&amp;" into the user's notes.
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals["placeholder"] = placeholder
    return env


class Composer:
    """Renders drafts and block descriptions for one user."""

    def __init__(self, user: UserConfig, templates_dir: Path | None = None) -> None:
        self.user = user
        self._env = _environment(str(templates_dir) if templates_dir is not None else None)

    def _render(self, name: str, context: dict[str, Any]) -> str:
        try:
            text = self._env.get_template(name).render(context)
        except jinja2.TemplateError as e:
            where = f"{name}:{e.lineno}" if isinstance(e, jinja2.TemplateSyntaxError) else name
            raise TemplateProblem(f"template {where}: {e.message or e}") from e
        # Templates may leave trailing spaces and runs of blank lines; mail should not.
        lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
        out: list[str] = []
        for line in lines:
            if not line and (not out or not out[-1]):
                continue
            out.append(line)
        return "\n".join(out).strip("\n") + "\n"

    def render(self, name: str, context: dict[str, Any]) -> str:
        """A template rendered to plain text (for core.drafting and the composer's own)."""
        return self._render(name, context)

    def _user_context(self) -> dict[str, str]:
        return self.user_context(self.user.language)

    def user_context(self, language: str) -> dict[str, str]:
        """The user as a template sees them; the intro line only in the draft's language."""
        intro = self.user.intros.get(language)  # type: ignore[call-overload]
        if intro is None:
            intro = self.user.intro if language == self.user.language else ""
        return {
            "name": self.user.name,
            "intro": intro.strip(),
            "signature": self.user.signature.strip("\n"),
        }

    def from_address(self) -> tuple[str | None, str] | None:
        if not self.user.addresses:
            return None
        return (display_name(self.user.name), self.user.addresses[0])

    _from = from_address

    def first_touch(
        self,
        note: FirstNote,
        *,
        now: datetime,
        tz: ZoneInfo,
        booking_url: str = "",
        slot_minutes: int = 30,
    ) -> DraftPayload:
        """The first follow-up to the people of one meeting who share a draft (PLAYBOOK §2).
        The meeting's description is private: see core.drafting."""
        return first_touch_draft(
            self, note, now=now, tz=tz, booking_url=booking_url, slot_minutes=slot_minutes
        )

    def nurture(
        self, touch: LaterTouch | PersonState, *, key: str, tz: ZoneInfo
    ) -> DraftPayload:
        """A later touch (PLAYBOOK §3): it gives something (an open promise, a resource of
        the user's, the next step discussed; a placeholder only when nothing is known), in
        the thread of the last mail exchanged, never a pitch. The notes stay private."""
        touch = self._touch(touch)
        state = touch.state
        who = Person.of(state.email, state.name)
        language = touch.language if touch.language in NURTURE_TEMPLATES else "en"
        last = touch.last
        replying = last is not None and bool(last.message_id or last.thread_id
                                             or last.remote_id)
        context = {
            "greeting_name": who.greeting,
            "person": who,
            "gift": touch.gift,
            "replying": replying,
            "touch": state.touches,
            "user": self.user_context(language),
            # Kept for templates written before: the last meeting, as a neutral name.
            "met": {"title": touch.topic or "our meeting",
                    "date": format_date(state.first_met, tz)},
        }
        subject = _later_subject(touch, language)
        if replying and last is not None and last.subject:
            subject = reply_subject(last.subject)
        refs: tuple[str, ...] = ()
        if replying and last is not None and last.message_id:
            refs = (last.message_id,)
        return DraftPayload(
            to=((display_name(who.name), state.email),),
            subject=one_line(subject, 200),
            body=self._render(NURTURE_TEMPLATES[language], context),
            message_id=keys.message_id(key),
            from_addr=self._from(),
            in_reply_to=refs[0] if refs else None,
            references=refs,
            thread_id=last.thread_id if replying and last is not None else None,
            reply_to_remote=last.remote_id if replying and last is not None else None,
        )

    def _touch(self, touch: LaterTouch | PersonState) -> LaterTouch:
        if isinstance(touch, LaterTouch):
            return touch
        return later_touch(touch, touch.anchor, None, [], self.user.language)

    def first_touch_block(
        self,
        items: Sequence[BlockItem],
        *,
        start: datetime,
        end: datetime,
        conflict: bool,
        where_drafts_are: str,
        tz: ZoneInfo,
        late: bool = False,
    ) -> BlockPayload:
        """The calendar block that reminds the user to send the first follow-ups of one or
        more meetings, with the private notes, the promises and the offered times. `late`:
        no working time was left before the deadline; the block says so."""
        return first_touch_block(
            self, items, start=start, end=end, conflict=conflict,
            where_drafts_are=where_drafts_are, tz=tz, late=late,
        )

    def nurture_block(
        self,
        touches: Sequence[LaterTouch | PersonState],
        *,
        start: datetime,
        end: datetime,
        conflict: bool,
        where_drafts_are: str,
        tz: ZoneInfo,
        drafts: dict[str, DraftRef] | None = None,
        moved: str = "",
        schedule: ScheduleConfig | None = None,
    ) -> BlockPayload:
        """A block for one or more later touches (the weekly batch lists everyone due): for
        each, the draft or the call asked for, what it gives, and the history (PLAYBOOK §3).
        `drafts`: each person's draft (key and subject), for the link to it."""
        if not touches:
            raise ValueError("a nurture block needs at least one person")
        items = [self._touch(t) for t in touches]
        links = drafts or {}
        people = []
        for t in items:
            s = t.state
            who = Person.of(s.email, s.name)
            ref = links.get(s.email)
            people.append({
                "label": who.label,
                "email": who.email,
                "call": t.call,
                "asked": _asked(s, tz),
                "subject": ref.subject if ref else "",
                "link": draft_link_marker(ref.key) if ref else "",
                "gives": _gives(t),
                "met": _met(s, t.topic, tz),
                "last": _last(t.last, tz),
                "status": _status_line(s, schedule),
                "notes": _cap(s.notes, NOTES_ON_BLOCK),
                # the old template's line, for overrides written before
                "why": one_line(f"met at {t.topic or 'a meeting'}, first on "
                                f"{format_short_date(s.first_met, tz)}", 300),
            })
        calls = [p for p in people if p["call"]]
        if len(people) == 1:
            verb = "Call" if calls else "Send follow-up to"
            summary = f"{verb} {people[0]['label']}"
        else:
            drafts_n = len(people) - len(calls)
            parts = [f"{drafts_n} follow-up{'s' if drafts_n != 1 else ''}"] if drafts_n else []
            if calls:
                parts.append(f"{len(calls)} call{'s' if len(calls) != 1 else ''}")
            summary = ("Send " if drafts_n else "Make ") + " and ".join(parts) + ": " \
                + "; ".join(str(p["label"]) for p in people)
        return BlockPayload(
            summary=one_line(summary, 200),
            description=self._render(
                BLOCK_TEMPLATE,
                {
                    "people": people,
                    "first_touch": False,
                    "where_drafts_are": where_drafts_are,
                    "conflict": conflict,
                    "moved": moved,
                },
            ),
            start=start,
            end=end,
            conflict=conflict,
            draft_keys=tuple(r.key for t in items if (r := links.get(t.state.email))),
        )

    def check(self) -> list[str]:
        """Problems with the templates in use (e.g. a user's override), one line each."""
        problems = []
        for name in TEMPLATES:
            try:
                self._env.get_template(name)
            except jinja2.TemplateError as e:
                problems.append(f"template {name}: {e}")
        return problems


_RE_PREFIX = re.compile(r"^\s*((re|aw|sv|antw|rif|r)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_NEW_SUBJECT = {
    "en": ("Catching up", "Still up for {}?"),
    "de": ("Kurz gemeldet", "Steht {} noch?"),
    "es": ("Para seguir en contacto", "¿Sigue en pie {}?"),
    "fr": ("Des nouvelles", "{} : toujours d'actualité ?"),
}


def reply_subject(subject: str) -> str:
    """ "Re: <subject>", whatever reply prefixes it carried ("AW:", "Re[2]:") once."""
    core = _RE_PREFIX.sub("", one_line(subject, 190)).strip()
    return f"Re: {core}" if core else "Re:"


def _later_subject(touch: LaterTouch, language: str) -> str:
    """A new thread's subject: what the touch gives, else a neutral line; never the raw
    calendar title."""
    plain, step = _NEW_SUBJECT.get(language, _NEW_SUBJECT["en"])
    gift = touch.gift
    if gift.kind in ("resource", "promise") and gift.promise != "intro":
        return gift.text[:1].upper() + gift.text[1:]
    if gift.kind == "next_step":
        return step.format(gift.text)
    return plain


@dataclass(frozen=True, slots=True)
class DraftRef:
    """A later touch's draft as its block lists it."""

    key: str
    subject: str


def _asked(state: PersonState, tz: ZoneInfo) -> str:
    if state.asked_at is None:
        return ""
    return f"to hear from you around {format_short_date(state.asked_at, tz)}"


def _gives(touch: LaterTouch) -> str:
    gift = touch.gift
    if gift.kind == "resource":
        return f"your resource \"{gift.text}\"" + (f" ({gift.url})" if gift.url else "")
    if gift.kind == "promise":
        what = "the introduction to" if gift.promise == "intro" else "what you promised:"
        return f"{what} {gift.text} (still open)"
    if gift.kind == "next_step":
        return f"the next step you discussed: {gift.text}"
    return "nothing known yet: replace the [[ placeholders ]] with something useful"


def _met(state: PersonState, topic: str, tz: ZoneInfo) -> str:
    first = f"first met {format_short_date(state.first_met, tz)}"
    last = state.last_met
    if last is not None and last.date() != state.first_met.date():
        first += f"; last met {format_short_date(last, tz)}"
    if topic:
        first += f" ({one_line(topic, 120)})"
    touches = state.touches
    return f"{first}; {touches} touch{'es' if touches != 1 else ''} so far"


def _last(last: Interaction | None, tz: ZoneInfo) -> str:
    if last is None:
        return ""
    who = "you wrote" if last.direction == "sent" else "they wrote"
    subject = f': "{one_line(last.subject, 120)}"' if last.subject else ""
    return f"{who} on {format_short_date(last.at, tz)}{subject}"


def _status_line(state: PersonState, schedule: ScheduleConfig | None) -> str:
    if state.unanswered <= 0:
        return ""
    line = f"{state.unanswered} touch{'es' if state.unanswered != 1 else ''} in a row " \
        "without an answer."
    if schedule is not None and schedule.unanswered_limit:
        if state.unanswered >= schedule.unanswered_limit:
            line += " The cadence is quarterly now."
        elif state.unanswered + 1 >= schedule.unanswered_limit:
            after = "slows to quarterly" if schedule.after_unanswered == "quarterly" \
                else "stops"
            line += f" If this one goes unanswered too, the cadence {after}."
    return line


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# Moved to followup.core.mime (headers encoded and checked there); kept importable here.

"""Drafts and block texts from Jinja2 templates, and drafts as RFC 5322 messages.

The shipped templates live in followup/templates; a file of the same name in the user's
templates folder overrides one. Templates only shape the body: headers (To, Subject) are built
here from cleaned one-line values, so nothing a calendar invite says can add a header line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import jinja2.sandbox

from followup import keys
from followup.config import UserConfig
from followup.core.drafting import BlockItem, FirstNote, first_touch_block, first_touch_draft
from followup.core.names import PersonName, organization_from_email, parse_name
from followup.core.state import PersonState
from followup.core.text import (
    format_date,
    format_short_date,
    meeting_place,
    meeting_title,
    one_line,
)
from followup.model import BlockPayload, DraftPayload, Meeting

FIRST_TOUCH_TEMPLATE = "first_touch.txt.j2"
NURTURE_TEMPLATE = "nurture.txt.j2"
BLOCK_TEMPLATE = "block.txt.j2"
FIRST_TOUCH_BLOCK_TEMPLATE = "first_touch_block.txt.j2"
TEMPLATES = (
    FIRST_TOUCH_TEMPLATE, "first_touch.de.txt.j2", "first_touch.es.txt.j2",
    "first_touch.fr.txt.j2", NURTURE_TEMPLATE, BLOCK_TEMPLATE, FIRST_TOUCH_BLOCK_TEMPLATE,
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
        who = self.name if self.greeting is not None and self.name else self.email
        if self.organization and self.organization.lower() not in who.lower():
            return f"{who}, {self.organization}"
        return who


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


def _header_name(name: str | None) -> str | None:
    """A display name for To/From: one line; dropped if it is an address (spoof-prone)."""
    clean = one_line(name, 120)
    return clean if clean and "@" not in clean else None


class Composer:
    """Renders drafts and block descriptions for one user."""

    def __init__(self, user: UserConfig, templates_dir: Path | None = None) -> None:
        self.user = user
        loaders: list[jinja2.BaseLoader] = []
        if templates_dir is not None:
            loaders.append(jinja2.FileSystemLoader(str(templates_dir)))
        loaders.append(jinja2.PackageLoader("followup", "templates"))
        # Sandboxed: a template in the user's folder must not reach Python (os.popen via
        # cycler.__init__.__globals__); immutable: nor change the values it is given.
        self._env = jinja2.sandbox.ImmutableSandboxedEnvironment(
            loader=jinja2.ChoiceLoader(loaders),
            undefined=jinja2.StrictUndefined,
            # Plain-text mail, not HTML: escaping would put "&amp;" into the user's notes.
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self._env.globals["placeholder"] = placeholder

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
        return (_header_name(self.user.name), self.user.addresses[0])

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

    def nurture(self, state: PersonState, *, key: str, tz: ZoneInfo) -> DraftPayload:
        """A later touch (PLAYBOOK §3): a placeholder for something useful, never a pitch."""
        who = Person.of(state.email, state.name)
        title = one_line(state.last_meeting_title, 150) or "our meeting"
        context = {
            "greeting_name": who.greeting,
            "person": who,
            "met": {"title": title, "date": format_date(state.first_met, tz)},
            "touch": state.touches,
            "user": self._user_context(),
        }
        return DraftPayload(
            to=((_header_name(who.name), state.email),),
            subject=one_line(f"Thought of you after {title}", 200),
            body=self._render(NURTURE_TEMPLATE, context),
            message_id=keys.message_id(key),
            from_addr=self._from(),
        )

    def first_touch_block(
        self,
        items: Sequence[BlockItem],
        *,
        start: datetime,
        end: datetime,
        conflict: bool,
        where_drafts_are: str,
        tz: ZoneInfo,
    ) -> BlockPayload:
        """The calendar block that reminds the user to send the first follow-ups of one or
        more meetings, with the private notes, the promises and the offered times."""
        return first_touch_block(
            self, items, start=start, end=end, conflict=conflict,
            where_drafts_are=where_drafts_are, tz=tz,
        )

    def nurture_block(
        self,
        states: Sequence[PersonState],
        *,
        start: datetime,
        end: datetime,
        conflict: bool,
        where_drafts_are: str,
        tz: ZoneInfo,
    ) -> BlockPayload:
        """A block for one or more later touches (the weekly batch lists everyone due)."""
        if not states:
            raise ValueError("a nurture block needs at least one person")
        people = []
        for s in states:
            who = Person.of(s.email, s.name)
            why = one_line(
                f"met at {one_line(s.last_meeting_title, 150) or 'a meeting'}, "
                f"first on {format_short_date(s.first_met, tz)}",
                300,
            )
            people.append({"label": who.label, "email": who.email, "why": why})
        if len(people) == 1:
            summary = f"Send follow-up to {people[0]['label']}"
        else:
            summary = f"Send {len(people)} follow-ups: " + "; ".join(p["label"] for p in people)
        return BlockPayload(
            summary=one_line(summary, 200),
            description=self._render(
                BLOCK_TEMPLATE,
                {
                    "people": people,
                    "first_touch": False,
                    "where_drafts_are": where_drafts_are,
                    "conflict": conflict,
                },
            ),
            start=start,
            end=end,
            conflict=conflict,
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


# Moved to followup.core.mime (headers encoded and checked there); kept importable here.
from followup.core.mime import render_mime  # noqa: E402, F401

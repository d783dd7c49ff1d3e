"""A later touch (PLAYBOOK §3): what it gives, which thread it continues, in which language.

The user's notes of the last meeting are read again (core.material): an open promise, the
next step discussed, and the words the user's resources are matched against. As in the first
note, the notes themselves never reach the draft: only the derived items do.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from followup.core.asked import read_ask
from followup.core.material import Material, read_material
from followup.core.occasion import Language, clean_title, detect_language
from followup.core.resources import Resource, best_resource
from followup.core.state import PersonState
from followup.model import Interaction, Meeting

GiftKind = Literal["promise", "resource", "next_step", "none"]


@dataclass(frozen=True, slots=True)
class Gift:
    """What a later touch brings the person."""

    kind: GiftKind
    text: str = ""  # the promised item, the resource's title, the next step
    url: str = ""  # a resource's link
    promise: Literal["send", "intro", "do", ""] = ""
    ident: str = ""  # how PersonState.given remembers it

    @property
    def known(self) -> bool:
        return self.kind != "none"


@dataclass(frozen=True, slots=True)
class LaterTouch:
    """One person's next touch, as the planner and the composer see it."""

    state: PersonState
    due: datetime
    last: Interaction | None  # the last mail exchanged: the draft replies in its thread
    gift: Gift
    language: Language
    topic: str  # the last meeting's title without tags, for the block and the text

    @property
    def call(self) -> bool:
        return self.state.channel == "call"


def promise_ident(kind: str, item: str) -> str:
    return f"promise:{kind}:{item.lower()}"


def material_of(state: PersonState) -> Material:
    return read_material(state.notes, title=state.last_meeting_title, by_user=True)


def choose_gift(
    state: PersonState, material: Material, resources: list[Resource]
) -> Gift:
    """An open promise, else the resource that fits the meeting and notes best, else the
    next step discussed; else nothing known (the draft shows a placeholder)."""
    for p in material.promises:
        ident = promise_ident(p.kind, p.item)
        if p.kind in ("send", "intro") and ident not in state.given:
            return Gift("promise", p.item, promise=p.kind, ident=ident)
    about = " ".join([state.last_meeting_title, state.notes, *sorted(material.tags)])
    found = best_resource(resources, about, state.given)
    if found is not None:
        return Gift("resource", found.title, url=found.url, ident=found.ident)
    if material.next_step and f"next:{material.next_step.lower()}" not in state.given:
        return Gift("next_step", material.next_step,
                    ident=f"next:{material.next_step.lower()}")
    return Gift("none")


def later_touch(
    state: PersonState,
    due: datetime,
    last: Interaction | None,
    resources: list[Resource],
    default_language: Language,
) -> LaterTouch:
    material = material_of(state)
    language = default_language
    for text in (material.shareable, material.private, state.last_meeting_title):
        found = detect_language(text) if text.strip() else None
        if found is not None:
            language = found
            break
    topic = clean_title(state.last_meeting_title) or state.last_meeting_title
    return LaterTouch(state=state, due=due, last=last,
                      gift=choose_gift(state, material, resources), language=language,
                      topic=" ".join(topic.split())[:150])


def enrol(
    meeting: Meeting,
    email: str,
    name: str | None,
    *,
    material: Material,
    tz: ZoneInfo,
    anchor: datetime,
    touches: int,
    open_touch: bool,
) -> PersonState:
    """A person's cadence state after meeting them: the notes, what they asked for, and the
    promises a first draft (when there is one) already carried."""
    ask = read_ask(material.private, base=meeting.end, tz=tz)
    given = tuple(promise_ident(p.kind, p.item) for p in material.promises
                  if p.kind in ("send", "intro")) if open_touch else ()
    return PersonState(
        email=email, name=name, first_met=meeting.start,
        last_meeting_title=meeting.title, anchor=anchor, touches=touches,
        open_touch=open_touch, notes=material.private, last_met=meeting.start,
        asked_at=ask.at if ask else None, channel=ask.channel if ask else "email",
        given=given,
    )


def met_again(
    state: PersonState, meeting: Meeting, material: Material, tz: ZoneInfo
) -> PersonState:
    """Someone met before, met again: the anchor, the notes and any new ask move on."""
    ask = read_ask(material.private, base=meeting.end, tz=tz)
    return replace(
        state,
        anchor=max(state.anchor, meeting.end),
        last_meeting_title=meeting.title,
        last_met=meeting.start,
        notes=material.private or state.notes,
        asked_at=ask.at if ask else state.asked_at,
        channel=ask.channel if ask else state.channel,
    )

"""Which meetings are worth a follow-up at all, before anyone on them is judged (PLAYBOOK §2, §5).

Not every meeting is networking: an interview or a vendor's pitch to the user is not a
relationship to keep warm. The user's own tags win over every rule: `#nofollowup` in the
title or notes silences a meeting, `#followup` makes one count that the rules would skip
(a large meeting, an all-day event, colleagues, an interview). And a hallway chat the user
wrote down by hand, with nobody invited but an address in the notes, still counts.
"""

from __future__ import annotations

import dataclasses
import re

from followup.config import TriageConfig, UserConfig
from followup.core.material import Material, find_tags
from followup.core.occasion import meeting_kind
from followup.model import Attendee, Meeting, PartStat, Skip

TAGGED_OFF = "tagged_nofollowup"
NOT_NETWORKING = "not_networking"
NOBODY_FOUND = "nobody_found"

_KIND_REASONS = {
    "interview": "A job interview, not a contact to keep in touch with",
    "vendor_pitch": "A vendor's pitch to you, not a contact to keep in touch with",
}


def meeting_tags(meeting: Meeting, material: Material) -> frozenset[str]:
    return material.tags | find_tags(meeting.title)


def meeting_skip(meeting: Meeting, material: Material) -> Skip | None:
    """A reason to leave the whole meeting alone, or None. `#followup` overrides the kind
    rules; `#nofollowup` wins over everything."""
    tags = meeting_tags(meeting, material)
    if "nofollowup" in tags:
        return Skip("", TAGGED_OFF, "Tagged #nofollowup.")
    if "followup" in tags:
        return None
    kind = meeting_kind(meeting.title, material.private)
    if kind is not None:
        return Skip("", NOT_NETWORKING, f"{_KIND_REASONS[kind]} (tag it #followup to change that).")
    return None


def rules_for(
    meeting: Meeting, material: Material, user: UserConfig, rules: TriageConfig
) -> tuple[UserConfig, TriageConfig]:
    """The triage rules for this meeting: as configured, or, for a meeting tagged
    #followup, without the size, all-day and colleague rules (the user asked for it)."""
    if "followup" not in meeting_tags(meeting, material):
        return user, rules
    return (
        user.model_copy(update={"domains": []}),
        rules.model_copy(update={"max_attendees": 10_000, "skip_all_day": False}),
    )


def with_people_from_notes(meeting: Meeting, material: Material, user: UserConfig) -> Meeting:
    """A hand-made event with nobody on it but addresses in its notes (a hallway chat): the
    people at those addresses, with the user as its organiser. Any other meeting as it is."""
    if meeting.attendees or not material.addresses:
        return meeting
    own = {a.lower() for a in user.addresses}
    if meeting.organizer is not None and meeting.organizer.email.lower() not in own:
        return meeting  # someone else's event: its notes are their agenda, not a chat
    people = tuple(
        Attendee(email=a, name=name_from_address(a), partstat=PartStat.ACCEPTED)
        for a in material.addresses if a not in own
    )
    if not people:
        return meeting
    organizer = meeting.organizer
    if organizer is None and user.addresses:
        organizer = Attendee(
            email=user.addresses[0], name=user.name or None, partstat=PartStat.ACCEPTED,
            is_organizer=True, is_self=True,
        )
    return dataclasses.replace(meeting, attendees=people, organizer=organizer)


_FIRST_LAST = re.compile(r"^([a-z]{2,})[._]([a-z]{2,})$")


def name_from_address(address: str) -> str | None:
    """ "Maria Santos" from maria.santos@...: the one address form that reliably spells a
    name (an address alone, from the notes, has no display name to greet with)."""
    m = _FIRST_LAST.match(address.partition("@")[0])
    return f"{m.group(1).capitalize()} {m.group(2).capitalize()}" if m else None


def nobody_skip() -> Skip:
    return Skip(
        "", NOBODY_FOUND,
        "Nobody to follow up with: the event lists no one else, and its notes hold no address.",
    )


def organised_by_user(meeting: Meeting, user: UserConfig, self_addresses: set[str]) -> bool:
    """Whether the description is the user's own writing: they organised the event, or it
    is theirs alone (no organiser). Otherwise it is the organiser's agenda."""
    org = meeting.organizer
    if org is None:
        return True
    own = {a.lower() for a in user.addresses} | self_addresses
    return org.is_self or org.email.lower() in own

"""Who on an invite is a new contact worth a follow-up (PLAYBOOK §5).

Every person who is left out gets a Skip with a machine-readable code and one sentence for the
user, so `followup plan` can show why. A skip of the whole meeting has `email == ""`.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from followup.config import TriageConfig, UserConfig
from followup.model import Attendee, CUType, Meeting, MeetingStatus, PartStat, Skip


@dataclass(frozen=True)
class Triage:
    new_people: list[Attendee]
    skips: list[Skip]


# Meeting-level codes
CANCELLED = "cancelled"
USER_DECLINED = "user_declined"
ALL_DAY = "all_day"
LARGE = "large"
NOT_ATTENDING = "not_attending"
# Person-level codes
INVALID_EMAIL = "invalid_email"
DUPLICATE = "duplicate"
SELF = "self"
SKIP_ADDRESS = "skip_address"
RESOURCE = "resource"
GROUP = "group"
MACHINE = "machine"
INTERNAL = "internal"
DECLINED = "declined"
RECURRING_SEEN = "recurring_seen"  # a series already running when we first saw it
RECURRING_KNOWN = "recurring_known"  # met at an earlier occurrence of the series

# Local-part words that mean a list or a room rather than a machine sender; any other word of
# TriageConfig.skip_local_parts counts as a machine (no-reply, notifications...).
_GROUP_WORDS = frozenset({"list", "lists", "all", "team", "group", "groups", "everyone", "staff"})
_ROOM_WORDS = frozenset({"room", "rooms", "resource", "resources"})
# Shared mailboxes: a team reads them, so they are a group, not a person to follow up with.
_SHARED_WORDS = frozenset({"events", "hello", "press", "office", "sales", "contact"})

_FORBIDDEN = r"\s@<>()\[\],;:\"\\"
_EMAIL = re.compile(rf"^[^{_FORBIDDEN}]+@(?:[^{_FORBIDDEN}.]+\.)+[^{_FORBIDDEN}.]{{2,}}$")
_SEPARATORS = re.compile(r"[-_.]+")


def normalise_email(raw: str) -> str:
    """Lower-cased, trimmed, without a "mailto:" prefix, a "?subject=..." query, or
    invisible characters (a zero-width space would make the user's own address look like a
    stranger's), and with an internationalised domain in its ASCII (IDNA) form, so that
    triage, the ledger and the composer all mean the same mailbox by it."""
    text = "".join(ch for ch in raw if unicodedata.category(ch) != "Cf").strip()
    if text[:7].lower() == "mailto:":
        text = text[7:]
    text = text.split("?", 1)[0].strip().lower()
    local, at, domain = text.rpartition("@")
    if at and domain and not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return text  # not a usable domain: is_valid_email says so
        text = f"{local}@{domain}"
    return text


def canonical_email(raw: str) -> str:
    """The mailbox an address reaches: plus-addressing removed (ada+x@ is ada@)."""
    address = normalise_email(raw)
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    return f"{local.split('+', 1)[0] or local}@{domain}"


def is_valid_email(address: str) -> bool:
    """A plain ASCII addr-spec: the form a draft can be written to (the composer refuses any
    other, so triage must not make a card for someone who can never get a draft)."""
    if len(address) > 254 or not address.isascii():
        return False
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in address):
        return False
    if not _EMAIL.match(address):
        return False
    local = address.rpartition("@")[0]
    return len(local) <= 64 and not (local.startswith(".") or local.endswith(".") or ".." in local)


def _in_domains(domain: str, domains: Iterable[str]) -> bool:
    """`domain` is one of `domains` or a subdomain of one (eu.acme.com is acme.com)."""
    return any(domain == d or domain.endswith("." + d) for d in domains if d)


def _local_part_word(local: str, words: Iterable[str]) -> str | None:
    """The first of `words` that occurs in `local` as a whole word ("no-reply" in
    "no-reply.billing", "notifications" in "notifications+abc"; "all" not in "alice").
    Separators (-, _, .) count as the same."""
    flat = _SEPARATORS.sub("-", local)
    for word in words:
        w = _SEPARATORS.sub("-", word.strip().lower())
        if w and re.search(rf"(?<![a-z0-9]){re.escape(w)}(?![a-z0-9])", flat):
            return word
    return None


def series_members(meeting: Meeting) -> frozenset[str]:
    """Everyone on this occurrence, as the ledger should record them for its series."""
    people = list(meeting.attendees)
    if meeting.organizer is not None:
        people.append(meeting.organizer)
    return frozenset(normalise_email(p.email) for p in people if p.email.strip())


def _candidates(meeting: Meeting) -> list[Attendee]:
    """The attendees, plus the organizer when the list does not name them (an external
    organizer who invited the user is the very person to follow up with)."""
    people = list(meeting.attendees)
    org = meeting.organizer
    if org is not None and org.email.strip():
        listed = {canonical_email(a.email) for a in people}
        if canonical_email(org.email) not in listed:
            people.append(dataclasses.replace(org, partstat=PartStat.ACCEPTED, is_organizer=True))
    return people


class _Judge:
    def __init__(self, user: UserConfig, rules: TriageConfig, self_addresses: Collection[str]):
        own = [*user.addresses, *self_addresses]
        self.own = {canonical_email(a) for a in own if a.strip()}
        self.user_domains = [d.strip().lower().lstrip("@") for d in user.domains]
        self.skip_addresses = {canonical_email(a) for a in rules.skip_addresses}
        self.skip_domains = [d.strip().lower().lstrip("@") for d in rules.skip_domains]
        self.local_words = rules.skip_local_parts

    def is_self(self, person: Attendee) -> bool:
        return person.is_self or canonical_email(person.email) in self.own

    def person_skip(self, person: Attendee, address: str) -> tuple[str, str] | None:
        """(code, sentence) when this person gets no follow-up, None when they may."""
        local, _, domain = address.rpartition("@")
        if self.is_self(person):
            return SELF, "This is you (one of your own addresses)."
        if canonical_email(address) in self.skip_addresses:
            return SKIP_ADDRESS, "This address is on your skip list."
        if person.cutype in (CUType.RESOURCE, CUType.ROOM):
            return RESOURCE, "This is a room or a resource, not a person."
        if person.cutype is CUType.GROUP:
            return GROUP, "This is a group or mailing list, not a person."
        if _in_domains(domain, self.skip_domains):
            if "group" in domain:
                return GROUP, "This is a group calendar address, not a person."
            return RESOURCE, "This is a room or resource calendar, not a person."
        word = _local_part_word(local, self.local_words)
        if word is not None:
            if word.lower() in _SHARED_WORDS:
                return GROUP, f"A shared mailbox ('{word}@'), not a person."
            if word.lower() in _GROUP_WORDS:
                return GROUP, f"The address looks like a group or list ('{word}'), not a person."
            if word.lower() in _ROOM_WORDS:
                return RESOURCE, f"The address looks like a room ('{word}'), not a person."
            return MACHINE, f"The address looks automated ('{word}'): nobody reads replies."
        if _in_domains(domain, self.user_domains):
            return INTERNAL, "A colleague: the address is in your own domain."
        if person.partstat is PartStat.DECLINED:
            return DECLINED, "They declined the meeting."
        return None


def _attendance_skip(meeting: Meeting, judge: _Judge) -> Skip | None:
    """Only the user's own meetings: they organise it or are on it (a decline is
    USER_DECLINED's). A forwarded invitation, a shared or subscribed calendar's event is
    someone else's meeting. An event with neither organiser nor attendees is the user's own
    (a note in a local calendar)."""
    organizer = meeting.organizer
    if organizer is None and not meeting.attendees:
        return None
    if organizer is not None and judge.is_self(organizer):
        return None
    if any(judge.is_self(a) for a in meeting.attendees):
        return None
    return Skip("", NOT_ATTENDING,
                "You are not on this meeting (neither its organiser nor an attendee).")


def _meeting_skips(meeting: Meeting, rules: TriageConfig, judge: _Judge) -> list[Skip]:
    skips: list[Skip] = []
    absent = _attendance_skip(meeting, judge)
    if absent is not None:
        skips.append(absent)
    if meeting.status is MeetingStatus.CANCELLED:
        skips.append(Skip("", CANCELLED, "The meeting was cancelled."))
    if any(judge.is_self(a) and a.partstat is PartStat.DECLINED for a in meeting.attendees):
        skips.append(Skip("", USER_DECLINED, "You declined the meeting."))
    if meeting.all_day and rules.skip_all_day:
        skips.append(Skip("", ALL_DAY, "An all-day event, not a meeting with people."))
    people = {canonical_email(p.email) for p in _candidates(meeting) if p.email.strip()}
    if meeting.attendees_omitted:
        skips.append(
            Skip("", LARGE, "A large meeting: the calendar did not even list all attendees.")
        )
    elif len(people) > rules.max_attendees:
        skips.append(
            Skip(
                "",
                LARGE,
                f"A large meeting ({len(people)} attendees, more than {rules.max_attendees}): "
                "a webinar or an all-hands, not a meeting of people.",
            )
        )
    return skips


# Skips that mean "not a person who was there": the user, a second listing, rooms, lists,
# machines, people who declined, addresses that are not addresses.
NOT_PRESENT = frozenset({SELF, DUPLICATE, SKIP_ADDRESS, RESOURCE, GROUP, MACHINE, DECLINED,
                         INVALID_EMAIL})


def people_present(meeting: Meeting, skips: Iterable[Skip]) -> list[Attendee]:
    """Who was at the meeting as a person, by triage's own judgement (`skips` from
    `triage`): for the block's "Also there", never a room, a no-reply sender or the user."""
    absent = {s.email for s in skips if s.code in NOT_PRESENT}
    return [p for p in _candidates(meeting)
            if not p.is_self and normalise_email(p.email) not in absent]


def triage(
    meeting: Meeting,
    user: UserConfig,
    rules: TriageConfig,
    *,
    self_addresses: Collection[str],
    known_series_members: frozenset[str] | None,
) -> Triage:
    """Split a meeting's people into new contacts and skips (with reasons).

    `self_addresses`: the user's addresses as the account knows them (besides the config's).
    `known_series_members`: who the ledger has seen on earlier occurrences of this recurring
    series; None when the series is new to the ledger. Only a series' first occurrence, or a
    person joining it for the first time, counts as meeting someone new.
    """
    judge = _Judge(user, rules, self_addresses)
    meeting_skips = _meeting_skips(meeting, rules, judge)
    if meeting_skips:
        return Triage([], meeting_skips)

    first_occurrence = not meeting.is_recurring or meeting.occurrence == meeting.series_start
    known = (
        None if known_series_members is None else {canonical_email(e) for e in known_series_members}
    )

    new_people: list[Attendee] = []
    skips: list[Skip] = []
    seen: set[str] = set()
    for person in _candidates(meeting):
        address = normalise_email(person.email)
        if not is_valid_email(address):
            # Report the raw value, flattened, so a broken address is visible but harmless.
            shown = "".join(ch if ch.isprintable() else " " for ch in person.email)[:254]
            shown = shown.strip() or "(no address)"  # "" would mean the whole meeting
            reason = "Not a valid email address."
            if not address.isascii() and "@" in address:
                reason = ("An internationalised address (letters beyond ASCII before the @): "
                          "a draft cannot be addressed to it yet, so no contact either.")
            skips.append(Skip(shown, INVALID_EMAIL, reason))
            continue
        mailbox = canonical_email(address)
        if judge.is_self(person):
            # Before the duplicate check: the user listed twice is still the user.
            skips.append(Skip(address, SELF, "This is you (one of your own addresses)."))
            continue
        if mailbox in seen:
            skips.append(Skip(address, DUPLICATE, "Listed more than once on the invite."))
            continue
        seen.add(mailbox)
        verdict = judge.person_skip(person, address)
        if verdict is not None:
            skips.append(Skip(address, *verdict))
            continue
        if not first_occurrence:
            if known is None:
                skips.append(
                    Skip(
                        address,
                        RECURRING_SEEN,
                        "A recurring meeting that was already running when followup first saw "
                        "it: nobody on it is new.",
                    )
                )
                continue
            if mailbox in known:
                skips.append(
                    Skip(
                        address,
                        RECURRING_KNOWN,
                        "Already met at an earlier occurrence of this recurring meeting.",
                    )
                )
                continue
        new_people.append(dataclasses.replace(person, email=address))
    return Triage(new_people, skips)

"""Invitations in mail: find the calendar parts of a message, read them, and decide which
of them a mail may be trusted with.

Senders attach calendars as text/calendar (inline or attachment), application/ics, or any
part named *.ics (application/octet-stream, even text/plain). The same calendar often comes
twice in one message (inline and attached); copies merge by the RFC 5546 rules.

Anyone can mail anyone a calendar. Following RFC 6047 section 3, a mail counts as the
organiser's word only when its From (or Sender) is the ORGANIZER, and, when the receiving
server recorded an Authentication-Results header, when DKIM, SPF or DMARC passed for that
address's domain (see vouched_senders):

- a mail whose authentication failed is ignored whole;
- an update (SEQUENCE above 0) or a cancellation from anyone but the organiser is ignored,
  and a first invitation from someone else cannot win a tie against the organiser's copy;
- an invitation the user has not accepted (their PARTSTAT is NEEDS-ACTION or absent, and
  they are not the organiser) creates nothing; a calendar that holds the UID speaks for it
  (the ledger prefers any calendar's copy to a mail's, see ledger.merge).

Each skip is logged with its reason, never with the mail's content.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace
from datetime import tzinfo
from email import message_from_bytes, policy
from email.message import Message
from email.utils import getaddresses

import authres  # type: ignore[import-untyped]  # no type hints shipped; used in one function
import structlog

from followup.ical.parse import (
    ANSWER_METHODS,
    OccurrenceKey,
    ParsedCalendar,
    Version,
    parse_calendar,
)
from followup.model import Interval, Meeting, MeetingStatus, PartStat

log = structlog.get_logger(__name__)

_CALENDAR_TYPES = frozenset({"text/calendar", "application/ics", "text/x-vcalendar"})
_CALENDAR_SUFFIXES = (".ics", ".ical", ".icalendar", ".vcs")


@dataclass
class ParsedInvitation(ParsedCalendar):
    """A mail's meetings, and which of them the organiser sent (see the module's doc)."""

    from_organizer: set[OccurrenceKey] = field(default_factory=set)


def parse_invitation_mail(
    raw: bytes,
    *,
    source: str,
    window: Interval,
    default_tz: tzinfo,
    user_addresses: Collection[str] = (),
) -> ParsedInvitation:
    """Meetings announced or cancelled by one message, as far as its sender may speak for
    them (see the module's doc). Answers (METHOD:REPLY...) are ignored: they are someone's
    reply to an invitation, not a meeting of ours. `user_addresses` are the user's own
    addresses, for the "not accepted" rule; without them that rule is not applied."""
    result = ParsedInvitation()
    try:
        msg = message_from_bytes(raw, policy=policy.default)
    except Exception as e:  # the email package is lenient; this is truly unreadable
        result.errors.append(f"{source}: not a mail message ({type(e).__name__})")
        log.warning("ical.mail_unreadable", source=source, reason=type(e).__name__)
        return result
    parts: list[ParsedCalendar] = []
    for index, data in enumerate(calendar_parts(msg)):
        parsed = parse_calendar(
            data, source=f"{source}#{index}", window=window, default_tz=default_tz
        )
        result.errors.extend(parsed.errors)
        if result.method is None:
            result.method = parsed.method
        if parsed.method in ANSWER_METHODS:
            continue
        result.uids |= parsed.uids
        parts.append(parsed)
    if not parts:
        return result
    senders, unauthenticated = vouched_senders(msg)
    if unauthenticated:
        log.warning("ical.invitation_ignored", source=source, reason=unauthenticated)
        return result
    user = {a.strip().lower() for a in user_addresses}
    kept: list[tuple[Meeting, Version]] = []
    for meeting, version in merge_versions(parts):
        from_organizer = meeting.organizer is not None and meeting.organizer.email in senders
        reason = _distrust(meeting, version, result.method, from_organizer, user)
        if reason:
            log.info("ical.invitation_skipped", source=source, uid=meeting.uid, reason=reason)
            continue
        if from_organizer:
            result.from_organizer.add((meeting.uid, meeting.occurrence))
        else:  # may stand alone, never replace the organiser's own copy on a DTSTAMP
            version = replace(version, stamp=None)
        kept.append((meeting, version))
    result.meetings = [m for m, _ in kept]
    result.versions = {(m.uid, m.occurrence): v for m, v in kept}
    return result


def _distrust(meeting: Meeting, version: Version, method: str | None, from_organizer: bool,
              user: set[str]) -> str | None:
    """Why this copy of a meeting must not count, or None."""
    cancelled = meeting.status is MeetingStatus.CANCELLED or method == "CANCEL"
    if not from_organizer and (cancelled or version.sequence > 0):
        what = "a cancellation" if cancelled else "an update"
        return f"{what} not sent by the meeting's organiser"
    if user and not cancelled and not accepted(meeting, user):
        return "an invitation the user has not accepted"
    return None


def accepted(meeting: Meeting, user: Collection[str]) -> bool:
    """Whether the user organises the meeting or answered yes, maybe or no to it.

    A decline is kept: it is the user's answer, and triage skips it with its own reason."""
    if meeting.organizer is not None and (
        meeting.organizer.is_self or meeting.organizer.email in user
    ):
        return True
    own = [a for a in meeting.attendees if a.is_self or a.email in user]
    return any(a.partstat is not PartStat.NEEDS_ACTION for a in own)


def sender_addresses(msg: Message, *names: str) -> frozenset[str]:
    """The addresses in the named headers (default From and Sender), lower-cased."""
    values = [str(v) for name in (names or ("From", "Sender")) for v in (msg.get_all(name) or [])]
    return frozenset(addr.strip().lower() for _, addr in getaddresses(values) if "@" in addr)


# Services that send invitations *as* the organiser (From) while signing for themselves and
# naming themselves in Sender: their signature vouches for the From they put there.
_CALENDAR_SERVICES = {"calendar-notification@google.com": "google.com"}


def vouched_senders(msg: Message) -> tuple[frozenset[str], str | None]:
    """The From and Sender addresses a mail may speak for, and why it may speak for none.

    Without an Authentication-Results header (or one saying `none`: the server checked
    nothing, as in local delivery) that is From and Sender as written. With one, only the
    topmost counts (the receiving server adds it last; lower ones may come from the sender),
    and an address counts only when a dkim, spf or dmarc `pass` is for its domain (RFC 7489
    relaxed alignment: the same domain, or one a subdomain of the other); the From itself
    must be vouched for, else the whole mail is ignored. A known calendar service in Sender
    (Google Calendar) vouches for the From it sends as, when its own signature passed.
    """
    senders = sender_addresses(msg)
    passed = _passed_domains(msg)
    if passed is None:
        return senders, None
    if isinstance(passed, str):
        return frozenset(), passed

    def vouched(address: str) -> bool:
        return any(_aligned(address.rsplit("@", 1)[1], d) for d in passed)

    authors = sender_addresses(msg, "From")
    ok = {a for a in senders if vouched(a)}
    for service, domain in _CALENDAR_SERVICES.items():
        if service in senders and any(_aligned(domain, d) for d in passed):
            ok |= authors
    if not ok & authors:
        # The sender's domain is not repeated: it is the sender's text, not ours to log.
        return frozenset(), "Authentication-Results: no DKIM, SPF or DMARC pass for the From"
    return frozenset(ok), None


def authentication_failure(msg: Message) -> str | None:
    """Why the receiving server's Authentication-Results do not vouch for the From, or None
    (see vouched_senders)."""
    return vouched_senders(msg)[1]


def _passed_domains(msg: Message) -> set[str] | str | None:
    """Domains the topmost Authentication-Results header says passed dkim, spf or dmarc;
    None when there is no such header or it checked nothing; a reason when unreadable."""
    headers = msg.get_all("Authentication-Results") or []
    if not headers:
        return None
    try:
        # A trailing ";" (common, and harmless) is a syntax error to authres.
        value = str(headers[0]).strip().rstrip(";")
        parsed = authres.AuthenticationResultsHeader.parse_value(value)
    except Exception:  # authres raises its own errors, and worse on garbage
        return "unreadable Authentication-Results header"
    if not parsed.results:
        return None
    passed: set[str] = set()
    for r in parsed.results:
        if str(r.result).lower() != "pass":
            continue
        method = str(r.method).lower()
        for prop in r.properties:
            name = f"{prop.type}.{prop.name}".lower()
            if (method == "dkim" and name in ("header.d", "header.i")) or (
                method == "spf" and name in ("smtp.mailfrom", "smtp.helo")
            ) or (method == "dmarc" and name == "header.from"):
                passed.add(str(prop.value or "").strip().lower().rsplit("@", 1)[-1])
    return passed


def _aligned(a: str, b: str) -> bool:
    a, b = a.strip(".").lower(), b.strip(".").lower()
    if not a or not b:
        return False
    if a == b:
        return True
    short, long = sorted((a, b), key=len)
    return "." in short and long.endswith("." + short)


def calendar_parts(msg: Message) -> Iterable[bytes | str]:
    """The calendar payloads of a message, attachments and forwarded messages included."""
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        name = (part.get_filename() or part.get_param("name") or "")
        name = name if isinstance(name, str) else ""
        if ctype not in _CALENDAR_TYPES and not name.lower().endswith(_CALENDAR_SUFFIXES):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or not payload.strip():
            continue
        charset = part.get_content_charset()
        if charset:
            try:
                yield payload.decode(charset)
                continue
            except (LookupError, UnicodeDecodeError):
                pass  # a wrong label: let the parser guess
        yield payload


def merge_versions(parsed: Iterable[ParsedCalendar]) -> list[tuple[Meeting, Version]]:
    """One meeting per (UID, occurrence): the newest copy wins.

    Newest: an occurrence written out on its own (RECURRENCE-ID) beats one expanded from the
    series rule, unless the whole series was cancelled at least as recently; then the higher
    SEQUENCE; then the later DTSTAMP; at a full tie a cancellation (Outlook cancels without
    raising SEQUENCE). A copy the organiser sent always beats one someone else sent (see
    `supersedes`).
    """
    best: dict[OccurrenceKey, tuple[Meeting, Version, bool]] = {}
    for p in parsed:
        for meeting in p.meetings:
            key = (meeting.uid, meeting.occurrence)
            version = p.versions.get(key) or Version(
                meeting.sequence, None, False, meeting.status is MeetingStatus.CANCELLED
            )
            trusted = not isinstance(p, ParsedInvitation) or key in p.from_organizer
            current = best.get(key)
            if current is None or supersedes(version, trusted, current[1], current[2]):
                best[key] = (meeting, version, trusted)
    return [(m, v) for m, v, _ in best.values()]


def supersedes(a: Version, a_trusted: bool, b: Version, b_trusted: bool) -> bool:
    """Whether copy `a` replaces copy `b`, each sent by the organiser (trusted) or not.

    The organiser's copy beats anyone else's at the same or a higher SEQUENCE (someone
    else's can only be a first invitation, SEQUENCE 0); someone else's never replaces the
    organiser's; between copies of one kind, `is_newer` decides."""
    if a_trusted != b_trusted:
        return a_trusted and a.sequence >= b.sequence
    return is_newer(a, b)


def is_newer(a: Version, b: Version) -> bool:
    """Whether copy `a` of an occurrence supersedes copy `b` (see merge_versions)."""
    if a.explicit != b.explicit:
        explicit, rule = (a, b) if a.explicit else (b, a)
        series_cancelled = rule.cancelled and rule.sequence >= explicit.sequence
        winner = rule if series_cancelled else explicit
        return winner is a
    if a.sequence != b.sequence:
        return a.sequence > b.sequence
    if a.stamp and b.stamp and a.stamp != b.stamp:
        return a.stamp > b.stamp
    return a.cancelled and not b.cancelled

"""Meetings and write payloads to JSON-ready dicts and back, exactly.

Datetimes become UTC ISO 8601 strings; they come back tz-aware in UTC, equal to the original
instant. Enums are stored by value, tuples as lists.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from followup.model import (
    Attendee,
    BlockPayload,
    ContactPayload,
    CUType,
    DraftPayload,
    Meeting,
    MeetingStatus,
    PartStat,
    Payload,
    Role,
    WriteKind,
)

JSONDict = dict[str, Any]


def utc(when: datetime) -> datetime:
    """`when` in UTC; a naive datetime is a bug upstream and is refused."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"naive datetime: {when!r}")
    return when.astimezone(UTC)


def dump_time(when: datetime) -> str:
    return utc(when).isoformat()


def load_time(text: str) -> datetime:
    return utc(datetime.fromisoformat(text))


def _dump_opt_time(when: datetime | None) -> str | None:
    return None if when is None else dump_time(when)


def _load_opt_time(text: str | None) -> datetime | None:
    return None if text is None else load_time(text)


def dump_attendee(a: Attendee) -> JSONDict:
    return {
        "email": a.email,
        "name": a.name,
        "partstat": a.partstat.value,
        "role": a.role.value,
        "cutype": a.cutype.value,
        "is_organizer": a.is_organizer,
        "is_self": a.is_self,
    }


def load_attendee(d: JSONDict) -> Attendee:
    return Attendee(
        email=d["email"],
        name=d["name"],
        partstat=PartStat(d["partstat"]),
        role=Role(d["role"]),
        cutype=CUType(d["cutype"]),
        is_organizer=d["is_organizer"],
        is_self=d["is_self"],
    )


def dump_meeting(m: Meeting) -> JSONDict:
    return {
        "uid": m.uid,
        "start": dump_time(m.start),
        "end": dump_time(m.end),
        "title": m.title,
        "description": m.description,
        "location": m.location,
        "conference_url": m.conference_url,
        "organizer": None if m.organizer is None else dump_attendee(m.organizer),
        "attendees": [dump_attendee(a) for a in m.attendees],
        "status": m.status.value,
        "all_day": m.all_day,
        "transparent": m.transparent,
        "recurrence_id": _dump_opt_time(m.recurrence_id),
        "series_start": _dump_opt_time(m.series_start),
        "sequence": m.sequence,
        "attendees_omitted": m.attendees_omitted,
        "source": m.source,
        "timezone": m.timezone,
    }


def load_meeting(d: JSONDict) -> Meeting:
    organizer = d["organizer"]
    return Meeting(
        uid=d["uid"],
        start=load_time(d["start"]),
        end=load_time(d["end"]),
        title=d["title"],
        description=d["description"],
        location=d["location"],
        conference_url=d["conference_url"],
        organizer=None if organizer is None else load_attendee(organizer),
        attendees=tuple(load_attendee(a) for a in d["attendees"]),
        status=MeetingStatus(d["status"]),
        all_day=d["all_day"],
        transparent=d["transparent"],
        recurrence_id=_load_opt_time(d["recurrence_id"]),
        series_start=_load_opt_time(d["series_start"]),
        sequence=d["sequence"],
        attendees_omitted=d["attendees_omitted"],
        source=d["source"],
        timezone=d.get("timezone"),  # absent in meetings stored before it existed
    )


def _dump_addr(addr: tuple[str | None, str]) -> list[str | None]:
    return [addr[0], addr[1]]


def _load_addr(pair: list[str | None]) -> tuple[str | None, str]:
    name, address = pair
    if address is None:
        raise ValueError("an address without its email")
    return (name, address)


def dump_payload(p: Payload) -> JSONDict:
    if isinstance(p, ContactPayload):
        return {
            "email": p.email,
            "display_name": p.display_name,
            "given_name": p.given_name,
            "family_name": p.family_name,
            "organization": p.organization,
            "note": p.note,
            "group": p.group,
        }
    if isinstance(p, DraftPayload):
        return {
            "to": [_dump_addr(a) for a in p.to],
            "subject": p.subject,
            "body": p.body,
            "message_id": p.message_id,
            "from_addr": None if p.from_addr is None else _dump_addr(p.from_addr),
            "in_reply_to": p.in_reply_to,
            "references": list(p.references),
            "thread_id": p.thread_id,
            "reply_to_remote": p.reply_to_remote,
        }
    return {
        "summary": p.summary,
        "description": p.description,
        "start": dump_time(p.start),
        "end": dump_time(p.end),
        "conflict": p.conflict,
        "draft_keys": list(p.draft_keys),
        "tentative": p.tentative,
    }


def load_payload(kind: WriteKind, d: JSONDict) -> Payload:
    if kind is WriteKind.CONTACT:
        return ContactPayload(
            email=d["email"],
            display_name=d["display_name"],
            given_name=d["given_name"],
            family_name=d["family_name"],
            organization=d["organization"],
            note=d["note"],
            group=d["group"],
        )
    if kind is WriteKind.DRAFT:
        from_addr = d["from_addr"]
        return DraftPayload(
            to=tuple(_load_addr(a) for a in d["to"]),
            subject=d["subject"],
            body=d["body"],
            message_id=d["message_id"],
            from_addr=None if from_addr is None else _load_addr(from_addr),
            # Absent in drafts recorded before later touches replied in a thread.
            in_reply_to=d.get("in_reply_to"),
            references=tuple(d.get("references") or ()),
            thread_id=d.get("thread_id"),
            reply_to_remote=d.get("reply_to_remote"),
        )
    return BlockPayload(
        summary=d["summary"],
        description=d["description"],
        start=load_time(d["start"]),
        end=load_time(d["end"]),
        conflict=d["conflict"],
        draft_keys=tuple(d.get("draft_keys", ())),  # absent in blocks recorded before links
        tentative=bool(d.get("tentative", False)),
    )


def payload_kind(p: Payload) -> WriteKind:
    """The kind of write a payload belongs to."""
    if isinstance(p, ContactPayload):
        return WriteKind.CONTACT
    if isinstance(p, DraftPayload):
        return WriteKind.DRAFT
    return WriteKind.BLOCK

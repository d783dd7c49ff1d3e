"""Meetings announced by mail but missing from the calendar, as a second MeetingSource.

Outlook puts most invitations on the calendar itself; this source catches the others:
meeting requests (eventMessage) whose event is not on the calendar, and text/calendar
attachments from other systems. Each candidate message's MIME is read with
followup.ical.parse_invitation_mail, and a meeting whose UID is already on the calendar
(iCalUId) is left to the calendar source. The ledger merges both sources by UID.

The cursor is the newest receivedDateTime seen; each look lists only newer Inbox messages,
so an idle look is one request. Looks happen at most once per `every` (the cursor keeps
when the last one was), so most idle cycles cost nothing here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from datetime import datetime, timedelta, tzinfo
from typing import Any

import structlog

from followup.ical import parse_invitation_mail
from followup.model import CalendarChanges, Interval, Meeting
from followup.providers._throttle import looked_recently, utc_now
from followup.providers.microsoft.events import graph_time, parse_offset_datetime
from followup.providers.microsoft.graph import BatchRequest, GraphClient
from followup.providers.microsoft.mail import odata_string, query

log = structlog.get_logger(__name__)

# On a first poll, invitations received this long before the window still count: people
# are invited weeks ahead.
FIRST_LOOKBACK = timedelta(days=30)
MAX_MESSAGES = 500  # per poll
OVERLAP = timedelta(minutes=5)
_REQUEST_TYPES = ("#microsoft.graph.eventMessageRequest", "#microsoft.graph.eventMessage")
_CALENDAR_TYPES = frozenset({"text/calendar", "application/ics"})


class GraphInvitationSource:
    def __init__(self, graph: GraphClient, *, account: str, default_tz: tzinfo,
                 every: timedelta = timedelta(0),
                 clock: Callable[[], datetime] = utc_now,
                 user_addresses: Collection[str] = ()) -> None:
        self._graph = graph
        self._user = tuple(user_addresses)
        self._source = f"mail:{account}"
        self._tz = default_tz
        self._every = every
        self._clock = clock

    @property
    def name(self) -> str:
        return "invitations"

    def changes(self, cursor: str | None, window: Interval) -> CalendarChanges:
        since, seen, checked = _load(cursor)
        now = self._clock().timestamp()
        if since is not None and looked_recently(checked, now, self._every):
            return CalendarChanges(cursor=cursor)
        full = since is None
        # A little overlap, for mail delivered late with an earlier receivedDateTime; the ids
        # already read in that overlap are in the cursor and are not read again.
        start = window.start - FIRST_LOOKBACK if since is None else since - OVERLAP
        listed = self._graph.pages(
            "/me/mailFolders/inbox/messages",
            endpoint="messages.inbox",
            params={"$filter": f"receivedDateTime ge {graph_time(start)}Z",
                    "$select": "id,receivedDateTime,hasAttachments",
                    "$orderby": "receivedDateTime asc", "$top": "50"},
            limit=MAX_MESSAGES,
        )
        messages = [m for m in listed if str(m.get("id")) not in seen]
        received = {str(m.get("id")): parse_offset_datetime(m.get("receivedDateTime"))
                    for m in listed}
        newest = max([t for t in received.values() if t is not None] +
                     ([since] if since else []), default=None)
        changes = CalendarChanges(full=full)
        ids = self._with_calendar_data(messages)
        meetings: dict[tuple[str, datetime], Meeting] = {}
        for message_id in ids:
            raw = self._graph.get(f"/me/messages/{message_id}/$value", endpoint="messages.mime")
            # Not accepted and not on the calendar (filtered below): nothing (RFC 6047).
            parsed = parse_invitation_mail(raw.content, source=self._source, window=window,
                                           default_tz=self._tz, user_addresses=self._user)
            changes.errors.extend(parsed.errors)
            for meeting in parsed.meetings:
                meetings[(meeting.uid, meeting.occurrence)] = meeting
        on_calendar = self._on_calendar(sorted({uid for uid, _ in meetings}))
        changes.upserts = [m for (uid, _), m in sorted(meetings.items()) if uid not in on_calendar]
        when = newest or window.start
        recent = sorted(i for i, t in received.items() if t is not None and t >= when - OVERLAP)
        changes.cursor = json.dumps({"v": 1, "since": when.isoformat(), "seen": recent,
                                     "checked": now})
        return changes

    def _with_calendar_data(self, messages: list[dict[str, Any]]) -> list[str]:
        """Ids of messages carrying a meeting we may not have: checked in $batch requests."""
        checks: list[tuple[str, BatchRequest]] = []
        for m in messages:
            mid = str(m.get("id", ""))
            if m.get("@odata.type") in _REQUEST_TYPES:
                checks.append((mid, BatchRequest(
                    "GET", f"/me/messages/{mid}?$select=id&$expand=microsoft.graph.eventMessage/"
                    "event($select=id)", "messages.event")))
            elif m.get("hasAttachments"):
                checks.append((mid, BatchRequest(
                    "GET", f"/me/messages/{mid}/attachments?$select=id,name,contentType",
                    "messages.attachments")))
        if not checks:
            return []
        wanted = []
        for (mid, req), resp in zip(checks, self._graph.batch([r for _, r in checks]),
                                    strict=True):
            if resp.status != 200 or not isinstance(resp.body, dict):
                continue  # deleted meanwhile
            if req.endpoint == "messages.event":
                if not resp.body.get("event"):
                    wanted.append(mid)  # a meeting request Outlook did not put on the calendar
            elif any(_is_calendar(a) for a in resp.body.get("value") or []):
                wanted.append(mid)
        return wanted

    def _on_calendar(self, uids: list[str]) -> set[str]:
        if not uids:
            return set()
        answers = self._graph.batch([
            BatchRequest("GET", "/me/events?" + query({
                "$filter": f"iCalUId eq {odata_string(uid)}", "$select": "id", "$top": "1"}),
                "events.by_uid")
            for uid in uids
        ])
        return {uid for uid, resp in zip(uids, answers, strict=True)
                if resp.status == 200 and resp.body.get("value")}


def _is_calendar(attachment: dict[str, Any]) -> bool:
    ctype = str(attachment.get("contentType") or "").split(";")[0].strip().lower()
    name = str(attachment.get("name") or "").lower()
    return ctype in _CALENDAR_TYPES or name.endswith(".ics")


def _load(cursor: str | None) -> tuple[datetime | None, set[str], float]:
    """The cursor's newest receivedDateTime, the ids read at it, and when the last look was
    (epoch seconds; 0 in cursors written before looks were spaced out: look now)."""
    if not cursor:
        return None, set(), 0.0
    try:
        data = json.loads(cursor)
        return (datetime.fromisoformat(data["since"]), {str(i) for i in data.get("seen", [])},
                float(data.get("checked", 0.0)))
    except (ValueError, KeyError, TypeError):
        log.warning("microsoft.invitations.cursor_unreadable")
        return None, set(), 0.0

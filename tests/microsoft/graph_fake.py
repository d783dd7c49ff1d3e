"""A stateful local Microsoft Graph with the rules our provider relies on.

Served over HTTPS on 127.0.0.1 (stdlib http.server in a thread, trustme CA). It keeps events,
messages and contacts, and reproduces, from the Graph documentation (docs/microsoft.md):
- calendarView delta: a window fixed by the first call, @odata.nextLink pages (small pages on
  purpose) ending in @odata.deltaLink, @removed entries, 410 Gone or syncStateNotFound for
  expired tokens;
- transactionId: a repeated event create returns the first event (201), no second event;
- singleValueExtendedProperties $filter (property name case-sensitive, value not), contacts'
  emailAddresses/any() filter, iCalUId filter; $search and $filter refused together; no
  filtering on toRecipients;
- getSchedule, refused (500) for personal accounts; /$batch of at most 20, answers shuffled;
- faults: scripted (429 + Retry-After, 503, connection dropped before or after the write is
  applied) and a seeded random mode (e.g. 20 %), including 429s inside a $batch envelope.
Only bearer tokens issued by the fake authority are accepted.
"""

from __future__ import annotations

import json
import random
import re
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from .tls import Server, TestCA, quiet

Reply = tuple[int, Any, dict[str, str]]


class Drop(Exception):
    """Close the connection without an answer."""


@dataclass
class Fault:
    method: str  # "*" for any
    pattern: str  # regex searched in the path
    kind: str  # "429" | "503" | "drop" (before applying) | "lost" (apply, then drop)
    times: int = 1
    retry_after: str | None = "1"


def _utc(value: dict[str, str]) -> datetime:
    return datetime.fromisoformat(value["dateTime"][:19]).replace(tzinfo=UTC)


def _dt(when: datetime) -> dict[str, str]:
    return {"dateTime": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000"),
            "timeZone": "UTC"}


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _odata(literal: str) -> str:
    return literal.replace("''", "'")


class FakeGraph:
    def __init__(self, ca: TestCA, *, me: str = "me@contoso.example") -> None:
        self.me = me
        self.lock = threading.RLock()
        self.tokens: set[str] = set()
        self.personal = False
        self.page_size = 2
        self.events: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.contacts: dict[str, dict[str, Any]] = {}
        self.calendars: dict[str, dict[str, Any]] = {}
        self.transactions: dict[str, str] = {}
        self.delta: dict[str, tuple[datetime, datetime, dict[str, int]]] = {}
        self.skip: dict[str, tuple[list[dict[str, Any]], str, dict[str, str]]] = {}
        self.expired_mode: str | None = None  # "410" | "syncStateNotFound"
        self.faults: list[Fault] = []
        self.rng: random.Random | None = None
        self.fault_rate = 0.0
        self.log: list[tuple[str, str]] = []  # (method, path) of every HTTP request
        self.routes: Counter[str] = Counter()  # route names of every request, batch items too
        self.injected: Counter[str] = Counter()  # faults injected, by kind
        self._n = 0
        self.server = Server(self._handler(), ca)
        self.url = self.server.url + "/v1.0"

    # --- acting as the user / the world -------------------------------------------------------

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}{self._n:06d}{uuid.uuid4().hex[:8]}"

    def _touch(self, obj: dict[str, Any]) -> None:
        obj["changeKey"] = uuid.uuid4().hex[:16]
        obj["@odata.etag"] = f'W/"{obj["changeKey"]}"'
        obj["lastModifiedDateTime"] = _iso(datetime.now(UTC))
        obj["_version"] = obj.get("_version", 0) + 1

    def add_event(self, subject: str, start: datetime, minutes: int = 60, *,
                  attendees: list[tuple[str, str | None, str, str]] = (),  # type: ignore[assignment]
                  organizer: tuple[str, str | None] | None = None, uid: str | None = None,
                  show_as: str = "busy", **extra: Any) -> str:
        """attendees: (address, name, type required|optional|resource, response)."""
        with self.lock:
            eid = self._id("ev")
            org = organizer or (self.me, "Me Myself")
            event = {
                "id": eid, "iCalUId": uid or f"040000008200E00074C5B7101A82E008{eid}",
                "subject": subject, "start": _dt(start),
                "end": _dt(start + timedelta(minutes=minutes)),
                "type": "singleInstance", "showAs": show_as, "isCancelled": False,
                "isAllDay": False, "isOrganizer": org[0] == self.me,
                "organizer": {"emailAddress": {"address": org[0], "name": org[1]}},
                "responseStatus": {"response": "organizer" if org[0] == self.me
                                   else "accepted"},
                "attendees": [{"emailAddress": {"address": a, "name": n}, "type": t,
                               "status": {"response": r}} for a, n, t, r in attendees],
                "body": {"contentType": "text", "content": extra.pop("notes", "")},
                "_props": {}, "_calendar": None,
            }
            event.update(extra)
            self._touch(event)
            self.events[eid] = event
            return eid

    def add_series(self, uid: str, subject: str, starts: list[datetime], minutes: int = 60,
                   **kw: Any) -> tuple[str, list[str]]:
        """A series master and its occurrences (each with its own iCalUId, as in Graph)."""
        master = self.add_event(subject, starts[0], minutes, uid=uid, **kw)
        with self.lock:
            self.events[master]["type"] = "seriesMaster"
        occurrences = []
        for s in starts:
            oid = self.add_event(subject, s, minutes, **kw)
            with self.lock:
                self.events[oid].update({
                    "type": "occurrence", "seriesMasterId": master, "originalStart": _iso(s),
                    "iCalUId": f"{uid}-occ-{s:%Y%m%d}"})
            occurrences.append(oid)
        return master, occurrences

    def update_event(self, eid: str, **changes: Any) -> None:
        with self.lock:
            self.events[eid].update(changes)
            self._touch(self.events[eid])

    def delete_event(self, eid: str) -> None:
        with self.lock:
            del self.events[eid]

    def add_message(self, folder: str, *, sender: str, to: list[str], subject: str,
                    at: datetime, mime: bytes = b"", odata_type: str | None = None,
                    event_id: str | None = None,
                    attachments: list[dict[str, Any]] = ()) -> str:  # type: ignore[assignment]
        with self.lock:
            mid = self._id("msg")
            msg = {
                "id": mid, "subject": subject, "isDraft": False,
                "from": {"emailAddress": {"address": sender}},
                "toRecipients": [{"emailAddress": {"address": a}} for a in to],
                "ccRecipients": [], "receivedDateTime": _iso(at), "sentDateTime": _iso(at),
                "hasAttachments": bool(attachments), "_folder": folder, "_mime": mime,
                "_event": event_id, "_attachments": list(attachments), "_props": {},
                "internetMessageId": f"<{mid}@contoso.example>", "conversationId": f"conv-{mid}",
            }
            if odata_type:
                msg["@odata.type"] = odata_type
            self._touch(msg)
            self.messages[mid] = msg
            return mid

    def add_contact(self, email: str, name: str, notes: str) -> str:
        with self.lock:
            cid = self._id("ct")
            contact = {"id": cid, "displayName": name, "givenName": name.split()[0],
                       "surname": name.split()[-1], "companyName": "",
                       "emailAddresses": [{"address": email, "name": name}],
                       "personalNotes": notes, "categories": [], "_multi": {}, "_props": {}}
            self._touch(contact)
            self.contacts[cid] = contact
            return cid

    def expire_delta_tokens(self, mode: str) -> None:
        with self.lock:
            self.expired_mode = mode
            self.delta.clear()

    def fail(self, method: str, pattern: str, kind: str, times: int = 1,
             retry_after: str | None = "1") -> None:
        with self.lock:
            self.faults.append(Fault(method, pattern, kind, times, retry_after))

    def random_faults(self, rate: float, seed: int) -> None:
        self.rng = random.Random(seed)
        self.fault_rate = rate

    def drafts(self) -> list[dict[str, Any]]:
        return [m for m in self.messages.values() if m["_folder"] == "drafts"]

    def blocks(self) -> list[dict[str, Any]]:
        return [e for e in self.events.values() if e["_props"]]

    def sent_anything(self) -> bool:
        return any(m["_folder"] == "sentitems" and m["_props"] for m in self.messages.values())

    # --- request plumbing ------------------------------------------------------------------

    def _fault_for(self, method: str, path: str, *, in_batch: bool = False) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if f.times > 0 and f.method in ("*", method) and re.search(f.pattern, path):
                    f.times -= 1
                    return f
            if self.rng is not None and self.rng.random() < self.fault_rate:
                kinds = ["429", "503"] if in_batch else ["429", "503", "drop", "lost"]
                return Fault(method, "", self.rng.choice(kinds), 1,
                             self.rng.choice(["0", "1", None]))
        return None

    def handle(self, method: str, target: str, body: Any, *, in_batch: bool = False,
               if_match: str | None = None) -> Reply:
        split = urlsplit(target)
        path = split.path
        if path.startswith("/v1.0"):
            path = path[len("/v1.0"):]
        q = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        if if_match:
            q["_if_match"] = if_match
        fault = self._fault_for(method, path, in_batch=in_batch)
        if fault is not None:
            self.injected[fault.kind] += 1
        if fault is not None and fault.kind in ("429", "503"):
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            code = "TooManyRequests" if fault.kind == "429" else "ServiceUnavailable"
            return int(fault.kind), {"error": {"code": code, "message": "try later"}}, headers
        if fault is not None and fault.kind == "drop":
            raise Drop
        reply = self._route(method, path, q, body)
        if fault is not None and fault.kind == "lost":
            raise Drop
        return reply

    def _route(self, method: str, path: str, q: dict[str, str], body: Any) -> Reply:
        with self.lock:
            for route_method, pattern, name, fn in self._table():
                m = re.fullmatch(pattern, path)
                if m and route_method == method:
                    self.routes[name] += 1
                    result: Reply = fn(q, body, *m.groups())
                    return result
        return 404, {"error": {"code": "ResourceNotFound", "message": path}}, {}

    def _table(self) -> list[tuple[str, str, str, Any]]:
        return [
            ("GET", r"/me", "me", lambda q, b: (200, {"mail": self.me,
                                                      "userPrincipalName": self.me}, {})),
            ("GET", r"/me/calendarView/delta", "calendarView.delta", self._delta),
            ("GET", r"/me/calendarView", "calendarView", self._calendar_view),
            ("POST", r"/me/calendar/getSchedule", "getSchedule", self._schedule),
            ("GET", r"/me/calendars", "calendars.list", self._calendars),
            ("POST", r"/me/calendars", "calendars.create", self._calendar_create),
            ("GET", r"/me/events", "events.list", self._events_list),
            ("POST", r"/me/events", "events.create", self._event_create),
            ("POST", r"/me/calendars/([^/]+)/events", "events.create", self._event_create),
            ("GET", r"/me/calendars/([^/]+)/events", "events.list", self._events_list),
            ("GET", r"/me/events/([^/]+)", "events.get", self._get("events")),
            ("DELETE", r"/me/events/([^/]+)", "events.delete", self._delete("events")),
            ("GET", r"/me/messages", "messages.list", self._messages(None)),
            ("GET", r"/me/mailFolders/inbox/messages", "messages.inbox",
             self._messages("inbox")),
            ("GET", r"/me/mailFolders/sentitems/messages", "messages.sent",
             self._messages("sentitems")),
            ("POST", r"/me/messages", "messages.create", self._message_create),
            ("POST", r"/me/messages/([^/]+)/createReply", "messages.create_reply",
             self._create_reply),
            ("PATCH", r"/me/messages/([^/]+)", "messages.patch", self._message_patch),
            ("GET", r"/me/messages/([^/]+)/\$value", "messages.mime", self._mime),
            ("GET", r"/me/messages/([^/]+)/attachments", "messages.attachments",
             self._attachments),
            ("GET", r"/me/messages/([^/]+)", "messages.get", self._get("messages")),
            ("DELETE", r"/me/messages/([^/]+)", "messages.delete", self._delete("messages")),
            ("GET", r"/me/contacts", "contacts.list", self._contacts_list),
            ("POST", r"/me/contacts", "contacts.create", self._contact_create),
            ("GET", r"/me/contacts/([^/]+)", "contacts.get", self._get("contacts")),
            ("PATCH", r"/me/contacts/([^/]+)", "contacts.update", self._contact_patch),
            ("DELETE", r"/me/contacts/([^/]+)", "contacts.delete", self._delete("contacts")),
            ("POST", r"/\$batch", "$batch", self._batch),
        ]

    # --- rendering -------------------------------------------------------------------------

    def _render(self, obj: dict[str, Any], q: dict[str, str]) -> dict[str, Any]:
        out = {k: v for k, v in obj.items() if not k.startswith("_")}
        expand = q.get("$expand", "")
        if "singleValueExtendedProperties" in expand:
            out["singleValueExtendedProperties"] = [
                {"id": k, "value": v} for k, v in obj.get("_props", {}).items()]
        if "multiValueExtendedProperties" in expand:
            out["multiValueExtendedProperties"] = [
                {"id": k, "value": list(v)} for k, v in obj.get("_multi", {}).items()]
        if "eventMessage/event" in expand:
            eid = obj.get("_event")
            out["event"] = {"id": eid} if eid and eid in self.events else None
        return out

    def _page(self, items: list[dict[str, Any]], q: dict[str, str], base: str) -> Reply:
        top = int(q.get("$top", "100"))
        skip = int(q.get("$skip", "0"))
        page = items[skip:skip + top]
        body: dict[str, Any] = {"value": [self._render(i, q) for i in page]}
        if skip + top < len(items):
            rest = {k: v for k, v in q.items() if k != "$skip"}
            rest["$skip"] = str(skip + top)
            body["@odata.nextLink"] = (self.url + base + "?" + "&".join(
                f"{k}={v}" for k, v in rest.items()))
        return 200, body, {}

    @staticmethod
    def _bad_filter(text: str) -> Reply:
        return 400, {"error": {"code": "ErrorInvalidUrlQueryFilter", "message": text}}, {}

    def _get(self, kind: str) -> Any:
        def get(q: dict[str, str], body: Any, oid: str) -> Reply:
            store = getattr(self, kind)
            if oid not in store:
                return 404, {"error": {"code": "ErrorItemNotFound", "message": "not found"}}, {}
            return 200, self._render(store[oid], q), {}
        return get

    def _delete(self, kind: str) -> Any:
        def delete(q: dict[str, str], body: Any, oid: str) -> Reply:
            store = getattr(self, kind)
            if store.pop(oid, None) is None:
                return 404, {"error": {"code": "ErrorItemNotFound", "message": "not found"}}, {}
            return 204, None, {}
        return delete

    # --- calendar ----------------------------------------------------------------------------

    def _in_window(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        return [e for e in self.events.values()
                if e["type"] != "seriesMaster" and e["_calendar"] is None
                and _utc(e["start"]) < end and _utc(e["end"]) > start]

    def _delta(self, q: dict[str, str], body: Any) -> Reply:
        if "$skiptoken" in q:
            items, delta_token, _headers = self.skip.pop(q["$skiptoken"])
            return self._delta_page(items, delta_token)
        if "$deltatoken" in q:
            token = q["$deltatoken"]
            if token not in self.delta:
                if self.expired_mode == "410":
                    return 410, {"error": {"code": "resyncRequired", "message": "gone"}}, {
                        "Location": self.url + "/me/calendarView/delta?$deltatoken="}
                return 400, {"error": {"code": "syncStateNotFound",
                                       "message": "sync state not found"}}, {}
            start, end, seen = self.delta[token]
            now = {e["id"]: e for e in self._in_window(start, end)}
            items = [self._render(e, q) for i, e in now.items()
                     if seen.get(i) != e["_version"]]
            items += [{"id": i, "@removed": {"reason": "deleted"}} for i in seen if i not in now]
        else:
            start = datetime.fromisoformat(q["startDateTime"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(q["endDateTime"].replace("Z", "+00:00"))
            now = {e["id"]: e for e in self._in_window(start, end)}
            items = [self._render(e, q) for e in now.values()]
        new_token = uuid.uuid4().hex
        self.delta[new_token] = (start, end, {i: e["_version"] for i, e in now.items()})
        return self._delta_page(items, new_token)

    def _delta_page(self, items: list[dict[str, Any]], delta_token: str) -> Reply:
        page, rest = items[:self.page_size], items[self.page_size:]
        if rest:
            skip = uuid.uuid4().hex
            self.skip[skip] = (rest, delta_token, {})
            return 200, {"value": page, "@odata.nextLink":
                         f"{self.url}/me/calendarView/delta?$skiptoken={skip}"}, {}
        return 200, {"value": page, "@odata.deltaLink":
                     f"{self.url}/me/calendarView/delta?$deltatoken={delta_token}"}, {}

    def _calendar_view(self, q: dict[str, str], body: Any) -> Reply:
        start = datetime.fromisoformat(q["startDateTime"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(q["endDateTime"].replace("Z", "+00:00"))
        items = sorted(self._in_window(start, end), key=lambda e: e["start"]["dateTime"])
        return self._page(items, q, "/me/calendarView")

    def _schedule(self, q: dict[str, str], body: Any) -> Reply:
        if self.personal:
            return 500, {"error": {"code": "ErrorInternalServerError",
                                   "message": "An internal server error occurred."}}, {}
        start, end = _utc(body["startTime"]), _utc(body["endTime"])
        items = []
        for e in self._in_window(start, end):
            declined = e["responseStatus"]["response"] == "declined"
            if e["isCancelled"] or declined:
                continue
            items.append({"status": e["showAs"], "start": e["start"], "end": e["end"]})
        return 200, {"value": [{"scheduleId": body["schedules"][0],
                                "scheduleItems": items}]}, {}

    def _calendars(self, q: dict[str, str], body: Any) -> Reply:
        m = re.fullmatch(r"name eq '(.*)'", q.get("$filter", ""))
        items = [c for c in self.calendars.values() if not m or c["name"] == _odata(m[1])]
        return 200, {"value": items}, {}

    def _calendar_create(self, q: dict[str, str], body: Any) -> Reply:
        cid = self._id("cal")
        self.calendars[cid] = {"id": cid, "name": body["name"]}
        return 201, self.calendars[cid], {}

    _PROP = re.compile(r"singleValueExtendedProperties/Any\(ep: ep/id eq '(.+?)' and "
                       r"ep/value eq '(.*)'\)")

    def _by_prop(self, store: dict[str, dict[str, Any]], text: str) -> list[dict[str, Any]]:
        m = self._PROP.fullmatch(text)
        assert m is not None
        prop, value = m[1], _odata(m[2])
        return [o for o in store.values() if any(
            k == prop and v.lower() == value.lower() for k, v in o["_props"].items())]

    def _events_list(self, q: dict[str, str], body: Any, calendar: str | None = None) -> Reply:
        """/me/events lists the default calendar; /me/calendars/{id}/events that one."""
        f = q.get("$filter", "")
        here = {i: e for i, e in self.events.items() if e["_calendar"] == calendar}
        if self._PROP.fullmatch(f):
            items = self._by_prop(here, f)
        elif m := re.fullmatch(r"iCalUId eq '(.*)'", f):
            items = [e for e in here.values() if e["iCalUId"] == _odata(m[1])]
        elif not f:
            items = list(here.values())
        else:
            return self._bad_filter(f)
        return self._page(items, q, "/me/events" if calendar is None
                          else f"/me/calendars/{calendar}/events")

    def _event_create(self, q: dict[str, str], body: Any, calendar: str | None = None) -> Reply:
        tid = body.get("transactionId")
        if tid and tid in self.transactions and self.transactions[tid] in self.events:
            return 201, self._render(self.events[self.transactions[tid]], q), {}
        eid = self._id("ev")
        event = {k: v for k, v in body.items() if k != "singleValueExtendedProperties"}
        event.update({"id": eid, "iCalUId": f"040000008200E00074C5B7101A82E008{eid}",
                      "type": "singleInstance", "isCancelled": False, "isOrganizer": True,
                      "isAllDay": False, "attendees": [],
                      "organizer": {"emailAddress": {"address": self.me}},
                      "responseStatus": {"response": "organizer"}, "_calendar": calendar,
                      "_props": {p["id"]: p["value"]
                                 for p in body.get("singleValueExtendedProperties", [])}})
        event["start"] = _dt(_utc(body["start"]))
        event["end"] = _dt(_utc(body["end"]))
        self._touch(event)
        self.events[eid] = event
        if tid:
            self.transactions[tid] = eid
        return 201, self._render(event, q), {}

    # --- mail ----------------------------------------------------------------------------------

    def _messages(self, folder: str | None) -> Any:
        def listing(q: dict[str, str], body: Any) -> Reply:
            items = [m for m in self.messages.values() if folder in (None, m["_folder"])]
            f, search = q.get("$filter", ""), q.get("$search", "")
            if f and search:
                return 400, {"error": {"code": "ErrorInvalidUrlQuery",
                                       "message": "$search and $filter cannot combine"}}, {}
            if "toRecipients" in f:
                return self._bad_filter(f)
            if search:
                m = re.fullmatch(r'"to:(.+)"', search)
                if not m:
                    return 400, {"error": {"code": "BadRequest", "message": search}}, {}
                who = m[1].lower()
                items = [i for i in items if any(
                    r["emailAddress"]["address"].lower() == who
                    for r in i["toRecipients"] + i["ccRecipients"])]
                items.sort(key=lambda i: i["sentDateTime"], reverse=True)
            elif f:
                m = re.fullmatch(r"receivedDateTime ge (\S+)(?: and from/emailAddress/address "
                                 r"eq '(.*)')?", f)
                if self._PROP.fullmatch(f):
                    items = self._by_prop({i["id"]: i for i in items}, f)
                elif m:
                    items = [i for i in items if i["receivedDateTime"] >= m[1] and (
                        m[2] is None or i["from"]["emailAddress"]["address"].lower()
                        == _odata(m[2]).lower())]
                else:
                    return self._bad_filter(f)
            order = q.get("$orderby", "")
            if order.startswith("receivedDateTime"):
                items.sort(key=lambda i: i["receivedDateTime"], reverse=order.endswith("desc"))
            base = "/me/messages" if folder is None else f"/me/mailFolders/{folder}/messages"
            return self._page(items, q, base)
        return listing

    def _message_create(self, q: dict[str, str], body: Any) -> Reply:
        mid = self._id("msg")
        msg = {k: v for k, v in body.items() if k != "singleValueExtendedProperties"}
        # Outlook on the web's address of the item, as Graph's webLink gives it.
        web = f"https://outlook.office365.com/owa/?ItemID={quote(mid, safe='')}&exvsurl=1"
        msg.update({"id": mid, "isDraft": True, "_folder": "drafts", "_mime": b"",
                    "webLink": web + "&viewmodel=ReadMessageItem",
                    "_event": None, "_attachments": [], "ccRecipients": [],
                    "hasAttachments": False, "receivedDateTime": _iso(datetime.now(UTC)),
                    "sentDateTime": None, "from": {"emailAddress": {"address": self.me}},
                    "conversationId": f"conv-{mid}",
                    "_props": {p["id"]: p["value"]
                               for p in body.get("singleValueExtendedProperties", [])}})
        self._touch(msg)
        self.messages[mid] = msg
        return 201, self._render(msg, q), {}

    def _create_reply(self, q: dict[str, str], body: Any, mid: str) -> Reply:
        """A reply draft in the original's conversation, as Graph's createReply makes it:
        "RE: <subject>", to the original's sender, the `message` properties applied."""
        original = self.messages.get(mid)
        if original is None:
            return 404, {"error": {"code": "ErrorItemNotFound", "message": "not found"}}, {}
        sender = original["from"]["emailAddress"]["address"]
        to = original["toRecipients"] if sender == self.me else [
            {"emailAddress": {"address": sender}}]
        status, made, _ = self._message_create(q, {
            "subject": f"RE: {original['subject']}", "toRecipients": to,
            "body": {"contentType": "html", "content": "<p>quoted</p>"},
            **((body or {}).get("message") or {})})
        created = self.messages[made["id"]]
        created.update({"conversationId": original.get("conversationId"), "_reply_to": mid})
        return status, self._render(created, q), {}

    def _message_patch(self, q: dict[str, str], body: Any, mid: str) -> Reply:
        msg = self.messages.get(mid)
        if msg is None:
            return 404, {"error": {"code": "ErrorItemNotFound", "message": "not found"}}, {}
        if not msg.get("isDraft"):
            return 400, {"error": {"code": "ErrorInvalidRequest", "message": "not a draft"}}, {}
        msg.update({k: v for k, v in body.items() if k != "singleValueExtendedProperties"})
        msg["_props"].update({p["id"]: p["value"]
                              for p in body.get("singleValueExtendedProperties", [])})
        self._touch(msg)
        return 200, self._render(msg, q), {}

    def _mime(self, q: dict[str, str], body: Any, mid: str) -> Reply:
        if mid not in self.messages:
            return 404, {"error": {"code": "ErrorItemNotFound", "message": "not found"}}, {}
        return 200, bytes(self.messages[mid]["_mime"]), {"Content-Type": "message/rfc822"}

    def _attachments(self, q: dict[str, str], body: Any, mid: str) -> Reply:
        if mid not in self.messages:
            return 404, {"error": {"code": "ErrorItemNotFound", "message": "not found"}}, {}
        return 200, {"value": self.messages[mid]["_attachments"]}, {}

    # --- contacts ---------------------------------------------------------------------------

    def _contacts_list(self, q: dict[str, str], body: Any) -> Reply:
        f = q.get("$filter", "")
        m = re.fullmatch(r"emailAddresses/any\(a:a/address eq '(.*)'\)", f)
        if f and not m:
            return self._bad_filter(f)
        items = list(self.contacts.values())
        if m:
            who = _odata(m[1]).lower()
            items = [c for c in items
                     if any(e["address"].lower() == who for e in c["emailAddresses"])]
        return self._page(items, q, "/me/contacts")

    def _contact_create(self, q: dict[str, str], body: Any) -> Reply:
        cid = self._id("ct")
        contact = {k: v for k, v in body.items() if not k.endswith("ExtendedProperties")}
        contact.update({"id": cid, "_multi": {p["id"]: list(p["value"]) for p in
                                              body.get("multiValueExtendedProperties", [])},
                        "_props": {p["id"]: p["value"] for p in
                                   body.get("singleValueExtendedProperties", [])}})
        self._touch(contact)
        self.contacts[cid] = contact
        return 201, self._render(contact, q), {}

    def _contact_patch(self, q: dict[str, str], body: Any, cid: str) -> Reply:
        contact = self.contacts.get(cid)
        if contact is None:
            return 404, {"error": {"code": "ErrorItemNotFound", "message": "not found"}}, {}
        if_match = q.get("_if_match")
        if if_match and if_match != contact["@odata.etag"]:
            return 412, {"error": {"code": "ErrorIrresolvableConflict",
                                   "message": "changed"}}, {}
        for k, v in body.items():
            if k == "multiValueExtendedProperties":
                for p in v:
                    contact["_multi"][p["id"]] = list(p["value"])
            else:
                contact[k] = v
        self._touch(contact)
        return 200, self._render(contact, q), {}

    # --- $batch --------------------------------------------------------------------------------

    def _batch(self, q: dict[str, str], body: Any) -> Reply:
        requests = body.get("requests", [])
        if len(requests) > 20:
            return 400, {"error": {"code": "BadRequest", "message": "over 20 requests"}}, {}
        answers = []
        for r in requests:
            status, payload, headers = self.handle(
                r["method"], r["url"], r.get("body"), in_batch=True,
                if_match=(r.get("headers") or {}).get("If-Match"))
            answers.append({"id": r["id"], "status": status, "headers": headers,
                            "body": payload})
        random.Random(len(self.log)).shuffle(answers)  # Graph's order varies
        return 200, {"responses": answers}, {}

    # --- HTTP ------------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        graph = self

        @quiet
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                with graph.lock:
                    graph.log.append((method, unquote(self.path.split("?")[0])))
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                if token not in graph.tokens:
                    self._reply(401, {"error": {"code": "InvalidAuthenticationToken",
                                                "message": "Access token is empty or invalid"}},
                                {})
                    return
                body = json.loads(raw) if raw else None
                try:
                    status, payload, headers = graph.handle(
                        method, self.path, body, if_match=self.headers.get("If-Match"))
                except Drop:
                    self.close_connection = True
                    return
                self._reply(status, payload, headers)

            def _reply(self, status: int, payload: Any, headers: dict[str, str]) -> None:
                if isinstance(payload, bytes):
                    data, ctype = payload, headers.pop("Content-Type", "application/octet-stream")
                else:
                    data = b"" if payload is None else json.dumps(payload).encode()
                    ctype = "application/json"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def do_PATCH(self) -> None:
                self._serve("PATCH")

            def do_DELETE(self) -> None:
                self._serve("DELETE")

        return Handler

    def close(self) -> None:
        self.server.close()

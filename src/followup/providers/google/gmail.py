"""Gmail: invitations as a second meeting source, mail history, and drafts.

Searches use `q` (so gmail.readonly, not gmail.compose or gmail.metadata) with `after:` in epoch
seconds: date strings would mean midnight Pacific time.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import getaddresses
from typing import Any

import structlog
from googleapiclient.errors import HttpError

from followup import keys
from followup.core.mime import render_mime
from followup.errors import InputError
from followup.ical import parse_invitation_mail
from followup.model import (
    CalendarChanges,
    DraftPayload,
    Interaction,
    Interval,
    RemoteState,
    RemoveOutcome,
    WriteOutcome,
    WriteResult,
)
from followup.providers._throttle import looked_recently
from followup.providers.google.calls import http_error, status_of
from followup.providers.google.client import GoogleClient

log = structlog.get_logger(__name__)

ME = "me"
# An invitation arrives days or weeks before its meeting: the first scan looks this far back.
FIRST_SCAN_LOOKBACK = timedelta(days=60)
# Meetings announced by mail are kept this far past the window (the cursor moves on; a mail
# is read once).
MAIL_HORIZON = timedelta(days=180)
MAX_MESSAGES_PER_SCAN = 500
ADDRESSES_PER_QUERY = 20
HITS_READ_PER_QUERY = 25


def _ms_to_datetime(ms: str | int) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)


def _epoch(t: datetime) -> int:
    return int(t.timestamp())


def _b64decode(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def _list_ids(client: GoogleClient, limit: int, **params: Any) -> Iterator[str]:
    """Message ids of a messages.list search, newest first, following pages up to `limit`."""
    messages = client.api.gmail.users().messages()
    request = messages.list(userId=ME, maxResults=min(limit, 500), **params)
    seen = 0
    while request is not None and seen < limit:
        try:
            page = client.caller.read(request)
        except HttpError as e:
            raise http_error(e, "messages.list") from None
        for m in page.get("messages", []):
            seen += 1
            yield str(m["id"])
            if seen >= limit:
                return
        request = messages.list_next(request, page)


def _get(client: GoogleClient, message_id: str, **params: Any) -> dict[str, Any] | None:
    request = client.api.gmail.users().messages().get(userId=ME, id=message_id, **params)
    try:
        return dict(client.caller.read(request))
    except HttpError as e:
        if status_of(e) == 404:  # deleted between the search and the read
            return None
        raise http_error(e, "messages.get") from None


def _headers(message: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for h in (message.get("payload") or {}).get("headers", []):
        out.setdefault(str(h.get("name", "")).lower(), []).append(str(h.get("value", "")))
    return out


def _addresses(values: list[str]) -> set[str]:
    return {addr.lower() for _, addr in getaddresses(values) if addr}


# --- Invitations -------------------------------------------------------------------------


@dataclass
class _MailCursor:
    history: str  # the mailbox's historyId when the scan started
    after: int  # epoch seconds: the newest message read
    seen: list[str] = field(default_factory=list)  # ids read at that second (after: is >=)
    checked: float = 0.0  # epoch seconds of the last look at the mailbox (0: unknown)

    def dump(self) -> str:
        return json.dumps({"v": 1, "history": self.history, "after": self.after,
                           "seen": self.seen, "checked": self.checked})

    @classmethod
    def load(cls, text: str | None) -> _MailCursor | None:
        if not text:
            return None
        try:
            d = json.loads(text)
            return cls(str(d["history"]), int(d["after"]), [str(x) for x in d.get("seen", [])],
                       float(d.get("checked", 0.0)))
        except (ValueError, KeyError, TypeError):
            log.warning("google.cursor_unreadable", what="gmail")
            return None


class InvitationSource:
    """Invitation mails (text/calendar parts) as meetings: catches meetings that never made it
    into the calendar. The ledger merges them with the calendar's copies by UID.

    It looks at most once per `every` (the cursor remembers when), so most idle cycles cost
    nothing here; a look costs one users.getProfile (1 quota unit), and the search runs only
    when the mailbox's historyId moved.
    """

    def __init__(
        self, client: GoogleClient, clock: Callable[[], datetime], *, every: timedelta
    ) -> None:
        self._c = client
        self._clock = clock
        self._every = every
        self._name = "mail:gmail"

    @property
    def name(self) -> str:
        return self._name

    def _history_id(self) -> str:
        request = self._c.api.gmail.users().getProfile(userId=ME)
        try:
            return str(self._c.caller.read(request)["historyId"])
        except HttpError as e:
            raise http_error(e, "users.getProfile") from None

    def changes(self, cursor: str | None, window: Interval) -> CalendarChanges:
        state = _MailCursor.load(cursor)
        now = self._clock().timestamp()
        if state is not None and looked_recently(state.checked, now, self._every):
            return CalendarChanges(cursor=state.dump())
        history = self._history_id()
        if state is not None and state.history == history:
            state.checked = now
            return CalendarChanges(cursor=state.dump())
        full = state is None
        after = _epoch(window.start - FIRST_SCAN_LOOKBACK) if state is None else state.after
        seen = set() if state is None else set(state.seen)
        q = f"{self._c.cfg.invitations_query} after:{after}".strip()
        span = Interval(window.start, window.end + MAIL_HORIZON)
        changes = CalendarChanges(full=full)
        newest, at_newest = after, list(seen)
        for message_id in _list_ids(self._c, MAX_MESSAGES_PER_SCAN, q=q):
            if message_id in seen:
                continue
            message = _get(self._c, message_id, format="raw")
            if message is None:
                continue
            stamp = int(message.get("internalDate", 0)) // 1000
            if stamp > newest:
                newest, at_newest = stamp, [message_id]
            elif stamp == newest:
                at_newest.append(message_id)
            parsed = parse_invitation_mail(
                _b64decode(str(message.get("raw", ""))),
                source=f"{self.name}/{message_id}",
                window=span,
                default_tz=self._c.default_tz,
                # Not accepted and not on the calendar (whose copy wins): nothing (RFC 6047).
                user_addresses=self._c.config.user.addresses,
            )
            changes.upserts.extend(parsed.meetings)
            changes.errors.extend(parsed.errors)
        changes.cursor = _MailCursor(history, newest, at_newest, now).dump()
        log.info("google.invitations_scanned", source=self.name, meetings=len(changes.upserts),
                 full=full)
        return changes


# --- Mail history ------------------------------------------------------------------------


class GmailHistory:
    """The latest mail either way per address, by batched searches.

    One search per direction for up to 20 addresses (`from:me after:T (to:a OR to:b)`,
    `after:T (from:a OR from:b)`); when it finds nothing (the usual case for people just
    met) that is all. Hits are read newest first (messages.get, metadata only) until every
    address with mail is placed.
    """

    def __init__(self, client: GoogleClient) -> None:
        self._c = client

    def last_interactions(
        self, emails: Sequence[str], since: datetime
    ) -> dict[str, Interaction]:
        wanted = sorted({e.strip().lower() for e in emails if e.strip()})
        found: dict[str, Interaction] = {}
        after = _epoch(since)
        for i in range(0, len(wanted), ADDRESSES_PER_QUERY):
            chunk = wanted[i : i + ADDRESSES_PER_QUERY]
            for direction in ("sent", "received"):
                for email, seen in self._direction(chunk, direction, after, since).items():
                    held = found.get(email)
                    if held is None or seen.at > held.at:
                        found[email] = seen
        return found

    def _query(self, emails: list[str], direction: str, after: int) -> str:
        if direction == "sent":
            return f"from:me after:{after} (" + " OR ".join(f"to:{e}" for e in emails) + ")"
        return f"after:{after} (" + " OR ".join(f"from:{e}" for e in emails) + ")"

    def _direction(
        self, emails: list[str], direction: str, after: int, since: datetime
    ) -> dict[str, Interaction]:
        pending = set(emails)
        latest: dict[str, Interaction] = {}
        ids = list(_list_ids(self._c, HITS_READ_PER_QUERY, q=self._query(emails, direction, after)))
        self._place(ids, direction, since, pending, latest)
        # Hits of a few busy addresses can hide the others': ask for those one by one.
        if pending and len(ids) >= HITS_READ_PER_QUERY:
            for email in sorted(pending):
                one = list(_list_ids(self._c, 1, q=self._query([email], direction, after)))
                self._place(one, direction, since, {email}, latest)
        return latest

    def _place(
        self, ids: list[str], direction: str, since: datetime, pending: set[str],
        latest: dict[str, Interaction],
    ) -> None:
        for message_id in ids:  # newest first: the first hit per address is its latest
            if not pending:
                return
            message = _get(self._c, message_id, format="metadata",
                           metadataHeaders=["From", "To", "Cc", "Message-ID", "Subject"])
            if message is None:
                continue
            at = _ms_to_datetime(message.get("internalDate", 0))
            if at < since:
                continue
            heads = _headers(message)
            names = heads.get("to", []) + heads.get("cc", []) if direction == "sent" else (
                heads.get("from", []))
            # The thread, so a later touch replies in it (threadId, Message-ID, Subject).
            mid = next(iter(heads.get("message-id", [])), None)
            subject = next(iter(heads.get("subject", [])), None)
            thread = message.get("threadId")
            for email in _addresses(names) & pending:
                latest[email] = Interaction(
                    email=email, at=at, direction=direction,
                    message_id="".join(str(mid).split()) or None if mid else None,
                    subject=" ".join(str(subject).split())[:500] or None if subject else None,
                    thread_id=str(thread) if thread else None,
                    remote_id=str(message.get("id") or message_id),
                )
                pending.discard(email)


# --- Drafts ------------------------------------------------------------------------------


class GmailDrafts:
    """Drafts carrying the key in their Message-ID; found again by an rfc822msgid: search,
    or, failing that, by reading the Message-ID header of each draft."""

    def __init__(self, client: GoogleClient, clock: Callable[[], datetime]) -> None:
        self._c = client
        self._clock = clock

    def _drafts(self) -> Any:
        return self._c.api.gmail.users().drafts()

    def _list(self, **params: Any) -> Iterator[dict[str, Any]]:
        request = self._drafts().list(userId=ME, maxResults=500, **params)
        while request is not None:
            try:
                page = self._c.caller.read(request)
            except HttpError as e:
                raise http_error(e, "drafts.list") from None
            yield from page.get("drafts", [])
            request = self._drafts().list_next(request, page)

    def _get(self, draft_id: str, **params: Any) -> dict[str, Any] | None:
        try:
            return dict(self._c.caller.read(self._drafts().get(userId=ME, id=draft_id, **params)))
        except HttpError as e:
            if status_of(e) == 404:
                return None
            raise http_error(e, "drafts.get") from None

    def find(self, message_id: str) -> dict[str, Any] | None:
        """The draft whose Message-ID is `message_id`: {"id", "message": {"id", ...}}."""
        bare = message_id.strip().strip("<>")
        hits = list(self._list(q=f"rfc822msgid:{bare}"))
        if hits:
            if len(hits) > 1:
                log.warning("google.duplicate_drafts", count=len(hits))
            return hits[-1]  # oldest (newest first): the one written first
        # Gmail's search may not index a draft's client-set Message-ID: read the headers.
        for draft in self._list():
            full = self._get(str(draft["id"]), format="metadata")
            if full is None:
                continue
            ids = _headers(full.get("message") or {}).get("message-id", [])
            if any(v.strip().strip("<>") == bare for v in ids):
                return full
        return None

    def _sent_or_deleted(self, message_id: str) -> WriteOutcome | None:
        """A message with our Message-ID that is no longer a draft: sent, or in the trash."""
        bare = message_id.strip().strip("<>")
        for mid in _list_ids(self._c, 5, q=f"rfc822msgid:{bare}", includeSpamTrash=True):
            message = _get(self._c, mid, format="minimal")
            labels = set((message or {}).get("labelIds", []))
            if "DRAFT" in labels or message is None:
                continue
            return WriteOutcome.EXISTED if "SENT" in labels else WriteOutcome.DISMISSED
        return None

    @staticmethod
    def _result(draft: dict[str, Any], outcome: WriteOutcome) -> WriteResult:
        # The draft id stays; its message id changes with every edit (drafts.update, the UI).
        return WriteResult(outcome, str(draft["id"]), str((draft.get("message") or {})["id"]))

    def ensure(self, key: str, payload: DraftPayload, *, recovering: bool) -> WriteResult:
        if recovering:
            found = self.find(payload.message_id)
            if found is not None:
                return self._result(found, WriteOutcome.EXISTED)
            gone = self._sent_or_deleted(payload.message_id)
            if gone is not None:
                log.info("google.draft_no_longer_a_draft", key=key, outcome=gone.value)
                return WriteResult(gone, None, None)
        try:
            raw = render_mime(payload, date=self._clock())
        except ValueError as e:  # a bad address, or mime.UnsafeMessage: retrying won't help
            raise InputError(f"cannot compose draft {key}: {e}") from e
        message: dict[str, str] = {"raw": base64.urlsafe_b64encode(raw).decode("ascii")}
        if payload.thread_id:  # a later touch: a reply in the thread of the last mail
            message["threadId"] = payload.thread_id
        try:
            made = self._create({"message": message}, payload)
        except HttpError as e:
            if not (payload.thread_id and getattr(e.resp, "status", None) == 404):
                raise http_error(e, "drafts.create") from None
            # The thread is gone (deleted since the history was read): a new thread then.
            log.info("google.thread_gone", key=key)
            try:
                made = self._create({"message": {"raw": message["raw"]}}, payload)
            except HttpError as e2:
                raise http_error(e2, "drafts.create") from None
        return self._result(made, WriteOutcome.CREATED)

    def _create(self, body: dict[str, Any], payload: DraftPayload) -> Any:
        return self._c.caller.create(
            lambda: self._drafts().create(userId=ME, body=body),
            lambda: self.find(payload.message_id),
        )

    def _current(self, remote_id: str | None, key_message_id: str | None) -> dict[str, Any] | None:
        if remote_id:
            return self._get(remote_id, format="minimal")
        return self.find(key_message_id) if key_message_id else None

    def state(self, key: str, remote_id: str | None, fingerprint: str | None) -> RemoteState:
        # Without a remote id (a new ledger adopting what an old one wrote) the draft is
        # looked up by the Message-ID its key gives, rather than assumed missing.
        draft = self._current(remote_id, None if remote_id else keys.message_id(key))
        if draft is None:
            return RemoteState.MISSING
        same = str((draft.get("message") or {}).get("id")) == fingerprint
        return RemoteState.PRESENT if same else RemoteState.EDITED

    def remove(self, key: str, remote_id: str | None, fingerprint: str | None) -> RemoveOutcome:
        state = self.state(key, remote_id, fingerprint)
        if state is RemoteState.MISSING or remote_id is None:
            return RemoveOutcome.GONE
        if state is RemoteState.EDITED:
            return RemoveOutcome.KEPT
        try:
            self._c.caller.read(self._drafts().delete(userId=ME, id=remote_id))
        except HttpError as e:
            if status_of(e) == 404:  # a retry after a lost answer: already deleted by us
                return RemoveOutcome.REMOVED
            raise http_error(e, "drafts.delete") from None
        return RemoveOutcome.REMOVED

"""Mail the user exchanged with people: Graph message queries, in $batch envelopes.

Graph does not combine $search with $filter, and filtering on toRecipients is not supported,
so each address takes two queries:
- sent:     Sent Items, $search="to:<address>" (KQL; newest first), checked against `since`
            and against the recipients locally (a search is a word match, not an equality);
- received: $filter=receivedDateTime ge <since> and from/emailAddress/address eq '<address>'.
For k addresses that is 2k requests in ceil(2k/20) round trips.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import structlog

from followup.model import Interaction
from followup.providers.microsoft.events import graph_time, parse_offset_datetime
from followup.providers.microsoft.graph import BatchRequest, GraphClient, GraphError

log = structlog.get_logger(__name__)


# What a later touch needs to reply in the thread of the last mail (createReply on its id).
THREAD_FIELDS = "id,internetMessageId,conversationId,subject"


def query(params: dict[str, str]) -> str:
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items())


def odata_string(value: str) -> str:
    """A string literal for $filter: single quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


class GraphMailHistory:
    def __init__(self, graph: GraphClient) -> None:
        self._graph = graph

    def last_interactions(
        self, emails: Sequence[str], since: datetime
    ) -> dict[str, Interaction]:
        wanted = sorted({e.strip().lower() for e in emails if e and "@" in e})
        # KQL cannot quote a double quote or backslash inside a phrase: such an address is
        # not searched for in Sent Items (it still is in received mail).
        requests = []
        for email in wanted:
            if '"' not in email and "\\" not in email:
                requests.append((email, "sent", BatchRequest("GET", "/me/mailFolders/sentitems/"
                    "messages?" + query({"$search": f'"to:{email}"',
                                         "$select": "sentDateTime,toRecipients,ccRecipients,"
                                                    + THREAD_FIELDS,
                                         "$top": "10"}), "messages.sent")))
            requests.append((email, "received", BatchRequest("GET", "/me/messages?" + query({
                "$filter": f"receivedDateTime ge {graph_time(since)}Z and "
                           f"from/emailAddress/address eq {odata_string(email)}",
                "$select": "receivedDateTime," + THREAD_FIELDS,
                "$orderby": "receivedDateTime desc",
                "$top": "1"}), "messages.received")))
        if not requests:
            return {}
        answers = self._graph.batch([r for _, _, r in requests])
        found: dict[str, Interaction] = {}
        for (email, direction, _), resp in zip(requests, answers, strict=True):
            if resp.status != 200:
                resp.raise_for_error()
                raise GraphError(resp.status, resp.error_code, "unexpected answer")
            hit = _latest(resp.body.get("value") or [], email, direction)
            if hit is None or hit[0] < since:
                continue
            at, item = hit
            current = found.get(email)
            if current is None or at > current.at:
                found[email] = Interaction(
                    email=email, at=at, direction=direction,
                    message_id=_text(item.get("internetMessageId")),
                    thread_id=_text(item.get("conversationId")),
                    subject=_text(item.get("subject"), keep_spaces=True),
                    remote_id=_text(item.get("id")),  # a later touch's createReply
                )
        return found


def _text(value: object, *, keep_spaces: bool = False) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return " ".join(value.split())[:500] if keep_spaces else "".join(value.split())


def _latest(
    items: list[dict[str, Any]], email: str, direction: str
) -> tuple[datetime, dict[str, Any]] | None:
    latest: tuple[datetime, dict[str, Any]] | None = None
    for item in items:
        if direction == "sent":
            recipients = (item.get("toRecipients") or []) + (item.get("ccRecipients") or [])
            addresses = {str((r.get("emailAddress") or {}).get("address") or "").lower()
                         for r in recipients}
            if email not in addresses:
                continue
            at = parse_offset_datetime(item.get("sentDateTime"))
        else:
            at = parse_offset_datetime(item.get("receivedDateTime"))
        if at is not None and (latest is None or at > latest[0]):
            latest = (at, item)
    return latest

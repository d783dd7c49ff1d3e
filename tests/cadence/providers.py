"""The scripted user's hands on the Google and Microsoft fakes (sim.Mailbox)."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from followup.protocols import Account

from .sim import ME, Block, Contact, Draft


def _text(raw: bytes) -> tuple[EmailMessage, str]:
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    part = msg.get_body(("plain",))
    return msg, str(part.get_content()) if part is not None else ""


class GoogleMailbox:
    """The Gmail and Calendar fake: drafts, sending (the draft's message labelled SENT in its
    thread), replies in that thread, events."""

    def __init__(self, fake: Any, account: Account) -> None:
        self.fake = fake
        self.account = account
        self._n = 0

    def set_clock(self, now: datetime) -> None:
        self.fake.clock = now

    def add_meeting(self, c: Contact, start: datetime, end: datetime) -> None:
        from fake_google import rfc3339

        self.fake.add_event("primary", {
            "summary": c.title, "description": c.notes,
            "start": {"dateTime": rfc3339(start)}, "end": {"dateTime": rfc3339(end)},
            "attendees": [{"email": ME, "self": True, "responseStatus": "accepted",
                           "organizer": True},
                          {"email": c.person.email, "displayName": c.person.name,
                           "responseStatus": "accepted"}]})

    def add_busy_day(self, uid: str, day: datetime) -> None:
        raise NotImplementedError

    def drafts(self) -> list[Draft]:
        out = []
        with self.fake.lock:
            for did, mid in self.fake.drafts.items():
                m = self.fake.messages[mid]
                msg, body = _text(m["raw"])
                out.append(Draft(did, email.utils.parseaddr(str(msg["To"]))[1],
                                 str(msg["Subject"]), body, str(msg["Message-ID"]),
                                 str(msg["In-Reply-To"]) if msg["In-Reply-To"] else None,
                                 thread=m["threadId"]))
        return out

    def send(self, draft: Draft, at: datetime) -> None:
        with self.fake.lock:
            mid = self.fake.drafts.pop(draft.ident)
            m = self.fake.messages[mid]
            m["labelIds"] = ["SENT"]
            m["internalDate"] = str(int(at.timestamp() * 1000))

    def delete_draft(self, draft: Draft) -> None:
        self.fake.user_deletes_draft(draft.ident)

    def receive(self, sender: str, subject: str, at: datetime, in_reply_to: str | None,
                thread: str | None) -> None:
        self._n += 1
        m = EmailMessage()
        m["From"], m["To"], m["Subject"] = sender, ME, subject
        m["Date"] = email.utils.format_datetime(at)
        m["Message-ID"] = f"<reply{self._n}@{sender.split('@')[1]}>"
        if in_reply_to:
            m["In-Reply-To"] = m["References"] = in_reply_to
        m.set_content("Thanks, let's talk soon.\n")
        msg = self.fake.add_message(m.as_bytes(), labels=["INBOX"], at=at)
        if thread:
            msg["threadId"] = thread  # Gmail threads a reply with its original

    def write_by_hand(self, to: str, at: datetime) -> None:
        self.fake.add_mail(ME, to, at=at, subject="The mockups", sent=True)

    def blocks(self) -> list[Block]:
        out = []
        for ev in self.fake.live_events("primary"):
            description = str(ev.get("description") or "")
            if "Created by followup." not in description:
                continue
            out.append(Block(ev["id"], _when(ev["start"]["dateTime"]),
                             _when(ev["end"]["dateTime"]), str(ev.get("summary")),
                             description))
        return out

    def delete_block(self, block: Block) -> None:
        self.fake.cancel_event("primary", block.ident)


class GraphMailbox:
    """The Graph fake: drafts (new or createReply), sending into Sent Items, replies in the
    conversation, events."""

    def __init__(self, graph: Any, account: Account, world: Any) -> None:
        self.graph = graph
        self.account = account
        self.world = world

    def set_clock(self, now: datetime) -> None:
        self.world.now = now

    def add_meeting(self, c: Contact, start: datetime, end: datetime) -> None:
        self.graph.add_event(c.title, start, int((end - start) / timedelta(minutes=1)),
                             uid=f"{c.key}@sim.example", notes=c.notes,
                             attendees=[(c.person.email, c.person.name, "required",
                                         "accepted")])

    def add_busy_day(self, uid: str, day: datetime) -> None:
        raise NotImplementedError

    def drafts(self) -> list[Draft]:
        out = []
        with self.graph.lock:
            for m in self.graph.drafts():
                to = m["toRecipients"][0]["emailAddress"]["address"]
                out.append(Draft(m["id"], to, m["subject"], m["body"]["content"],
                                 m.get("internetMessageId") or "",
                                 m.get("_reply_to"), thread=m.get("conversationId")))
        return out

    def send(self, draft: Draft, at: datetime) -> None:
        with self.graph.lock:
            m = self.graph.messages[draft.ident]
            # Sent Items keeps the id (Graph ids are immutable) and the conversation.
            m.update({"isDraft": False, "_folder": "sentitems",
                      "sentDateTime": _iso(at), "receivedDateTime": _iso(at)})

    def delete_draft(self, draft: Draft) -> None:
        with self.graph.lock:
            del self.graph.messages[draft.ident]

    def receive(self, sender: str, subject: str, at: datetime, in_reply_to: str | None,
                thread: str | None) -> None:
        mid = self.graph.add_message("inbox", sender=sender, to=[ME], subject=subject, at=at)
        if thread:
            with self.graph.lock:
                self.graph.messages[mid]["conversationId"] = thread

    def write_by_hand(self, to: str, at: datetime) -> None:
        self.graph.add_message("sentitems", sender=ME, to=[to], subject="The mockups", at=at)

    def blocks(self) -> list[Block]:
        out = []
        with self.graph.lock:
            for ev in self.graph.blocks():
                body = str((ev.get("body") or {}).get("content") or "")
                out.append(Block(ev["id"], _graph_when(ev["start"]), _graph_when(ev["end"]),
                                 str(ev.get("subject")), body))
        return out

    def delete_block(self, block: Block) -> None:
        self.graph.delete_event(block.ident)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _graph_when(value: dict[str, str]) -> datetime:
    text = value["dateTime"].rstrip("Z")[:19]
    return datetime.fromisoformat(text).replace(tzinfo=UTC)

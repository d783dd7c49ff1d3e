"""People in the ledger: their cadence state as rows, and forgetting someone entirely."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, select

from followup.core.state import STATUSES, PersonState, Status
from followup.ledger import schema
from followup.ledger.transactions import Transactions


def person_row(account: str, state: PersonState, now: datetime) -> dict[str, Any]:
    return {
        "account": account,
        "email": state.email,
        "name": state.name,
        "first_met": state.first_met,
        "last_meeting_title": state.last_meeting_title,
        "anchor": state.anchor,
        "touches": state.touches,
        "open_touch": state.open_touch,
        "updated_at": now,
        "status": state.status,
        "reason": state.reason,
        "unanswered": state.unanswered,
        "asked_at": state.asked_at,
        "channel": state.channel,
        "notes": state.notes,
        "last_met": state.last_met,
        "given": json.dumps(list(state.given)),
    }


def person_from_row(row: Row[Any]) -> PersonState:
    status: Status = next((st for st in STATUSES if st == row.status), "active")
    try:
        given = tuple(str(g) for g in json.loads(row.given or "[]"))
    except (ValueError, TypeError):
        given = ()
    return PersonState(
        email=row.email,
        name=row.name,
        first_met=row.first_met,
        last_meeting_title=row.last_meeting_title,
        anchor=row.anchor,
        touches=row.touches,
        open_touch=row.open_touch,
        status=status,
        reason=row.reason or "",
        unanswered=row.unanswered or 0,
        asked_at=row.asked_at,
        channel="call" if row.channel == "call" else "email",
        notes=row.notes or "",
        last_met=row.last_met,
        given=given,
    )


@dataclass(frozen=True, slots=True)
class Forgotten:
    """What `forget_person` removed from the ledger."""

    people: int
    writes: int
    skips: int
    offers: int


class PeopleMixin(Transactions):
    """The Ledger's people API beyond save/load (kept apart from store.py)."""

    _clock: Callable[[], datetime]

    def forget_person(self, account: str, email: str) -> Forgotten:
        """Remove what followup stored about one person: their row, the writes made for them
        (the objects in the user's mailbox and calendar stay: they are the user's), the skips
        that name them and the slots their drafts offered. A later meeting makes them new."""
        email = email.strip().lower()
        p, w, s, o = schema.people, schema.writes, schema.skips, schema.offers
        with self._begin() as conn:
            keys = [r.key for r in conn.execute(
                select(w.c.key).where(w.c.account == account, w.c.person == email))]
            offers = 0
            for key in keys:
                offers += int(conn.execute(delete(o).where(
                    o.c.account == account, o.c.draft_key == key)).rowcount or 0)
            writes = int(conn.execute(delete(w).where(
                w.c.account == account, w.c.person == email)).rowcount or 0)
            skips = int(conn.execute(delete(s).where(
                s.c.account == account, s.c.person == email)).rowcount or 0)
            people = int(conn.execute(delete(p).where(
                p.c.account == account, p.c.email == email)).rowcount or 0)
        return Forgotten(people, writes, skips, offers)

"""What the ledger remembers of a person, as the planner and the composer see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

# active: touches come at the cadence; talking: a reply or the user's own mail, the next
#   touch once the conversation has been quiet for the cadence's minimum;
# paused: the user said so (`followup people pause`); ended: no more touches (a deleted
#   first draft or block, too many unanswered touches, or the user).
Status = Literal["active", "talking", "paused", "ended"]
STATUSES: tuple[Status, ...] = ("active", "talking", "paused", "ended")


@dataclass(frozen=True)
class PersonState:
    """One row of the ledger's people table."""

    email: str
    name: str | None
    first_met: datetime
    last_meeting_title: str
    anchor: datetime  # last contact of any kind: meeting end, mail either way, our touch
    touches: int  # touches drafted so far (the first touch counts)
    open_touch: bool  # our last draft has not been followed by mail to them, nor deleted
    status: Status = "active"
    reason: str = ""  # why the status is what it is, one sentence for `plan` and `status`
    unanswered: int = 0  # touches sent in a row without an answer
    asked_at: datetime | None = None  # the day the contact asked to hear back
    channel: Literal["email", "call"] = "email"  # how they asked to hear back
    notes: str = ""  # the user's private notes of the last meeting: never in a draft
    last_met: datetime | None = None  # the start of the last meeting with them
    given: tuple[str, ...] = ()  # resources and promises earlier touches already carried

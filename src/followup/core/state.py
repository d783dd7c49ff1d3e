"""What the ledger remembers of a person, as the planner and the composer see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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

"""A small world for engine tests: a memory provider, a real ledger, a fixed clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from followup.config import Config, ScheduleConfig, UserConfig
from followup.core.compose import Composer
from followup.engine.apply import Hook
from followup.engine.cycle import CycleReport, run_cycle
from followup.ledger import Ledger
from followup.model import Attendee, Meeting, PartStat
from followup.protocols import Account
from followup.providers.memory import MemoryProvider

ME = "ada@engines.example"
T0 = datetime(2025, 3, 10, 10, 0, tzinfo=UTC)  # Monday 10:00 UTC: the first meeting starts


def person(email: str, name: str | None = None, **kw: Any) -> Attendee:
    return Attendee(email=email, name=name, partstat=PartStat.ACCEPTED, **kw)


def meeting(
    uid: str,
    start: datetime,
    people: Sequence[Attendee],
    *,
    minutes: int = 60,
    title: str = "Roadmap review",
    **kw: Any,
) -> Meeting:
    me = Attendee(ME, "Ada Lovelace", PartStat.ACCEPTED, is_organizer=True, is_self=True)
    return Meeting(
        uid=uid, start=start, end=start + timedelta(minutes=minutes), title=title,
        description="We talked about the pilot.", organizer=me, attendees=(me, *people), **kw,
    )


JANE = person("jane@acme.example", "Jane Doe")
BOB = person("bob@globex.example", "Bob Roe")
CHARLES = person("charles@engines.example", "Charles Babbage")  # a colleague


class World:
    """One account on a memory provider, with its ledger and config."""

    def __init__(self, ledger: Ledger, provider: MemoryProvider, config: Config) -> None:
        self.ledger = ledger
        self.provider = provider
        self.config = config
        self.account: Account = provider.account()
        self.composer = Composer(config.user)

    def cycle(self, now: datetime, *, dry_run: bool = False, hook: Hook | None = None,
              account: Account | None = None) -> CycleReport:
        return run_cycle(self.config, self.ledger, account or self.account, self.composer, now,
                         dry_run=dry_run, hooks=hook)


def make_config(**schedule: Any) -> Config:
    return Config(
        user=UserConfig(name="Ada Lovelace", addresses=[ME], domains=["engines.example"],
                        timezone="UTC"),
        schedule=ScheduleConfig(**schedule),
    )

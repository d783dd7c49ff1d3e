"""Shared by the Google cycle tests: engine cycles against the fake, on a clock they move.

(Helpers live here, not in conftest.py: several conftest modules share that name.)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fake_google import FakeGoogle, rfc3339
from google_env import T0 as MONDAY
from google_env import connect

from followup.config import Config, GoogleAccount, UserConfig
from followup.core.compose import Composer
from followup.engine.cycle import CycleReport, run_cycle
from followup.ledger import Ledger, WriteState
from followup.protocols import Account
from followup.providers.google import open_google_account

ME = "me@example.com"
T0 = MONDAY.replace(hour=10)  # the meeting: 10:00-11:00
PEOPLE = [("jane@acme.example", "Jane Doe"), ("bob@globex.example", "Bob Roe")]


class Cycles:
    def __init__(self, fake: FakeGoogle, cfg: GoogleAccount, config: Config,
                 ledger: Ledger) -> None:
        self.fake = fake
        self.ledger = ledger
        self.config = config.model_copy(update={"user": UserConfig(
            name="Me Myself", addresses=[ME], domains=["example.com"], timezone="UTC")})
        connect(fake, cfg, self.config)
        self.account: Account = open_google_account(
            cfg, self.config, clock=lambda: self.now, sleep=lambda s: None)
        self.composer = Composer(self.config.user)
        self.now = T0

    def run(self, now: datetime) -> CycleReport:
        self.now = now
        self.fake.clock = now
        return run_cycle(self.config, self.ledger, self.account, self.composer, now)

    def requests(self, now: datetime) -> tuple[int, CycleReport]:
        before = len(self.fake.log)
        report = self.run(now)
        return len(self.fake.log) - before, report

    def meeting(self, start: datetime, people: list[tuple[str, str]] = PEOPLE) -> None:
        self.fake.add_event("primary", {
            "summary": "Pilot review", "description": "We talked about the pilot.",
            "start": {"dateTime": rfc3339(start)},
            "end": {"dateTime": rfc3339(start + timedelta(hours=1))},
            "attendees": [{"email": ME, "self": True, "responseStatus": "accepted",
                           "organizer": True}] + [
                {"email": a, "displayName": n, "responseStatus": "accepted"}
                for a, n in people]})

    def until_settled(self, start: datetime, cycles: int = 40) -> datetime:
        now = start
        for _ in range(cycles):
            self.run(now)
            if not self.ledger.writes("work", states=[WriteState.PENDING]):
                return now
            now += timedelta(hours=1)
        raise AssertionError("writes still pending")

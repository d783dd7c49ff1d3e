"""Runs the evaluation set through the real engine (memory provider, real ledger): every
meeting is added to the calendar, a cycle runs 15 minutes after each one ends, as the daemon
would, and the drafts and blocks are collected per meeting."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import timedelta

from followup.config import Config, UserConfig
from followup.core.compose import Composer
from followup.engine.cycle import CycleReport, run_cycle
from followup.ledger import Ledger
from followup.model import (
    Attendee,
    Meeting,
    MeetingStatus,
    PartStat,
    Skip,
    WriteKind,
)
from followup.providers.memory import MemoryProvider, StoredBlock, StoredDraft

from .cases import CASES, ME, ME_NAME, Case

USER = UserConfig(
    name=ME_NAME,
    addresses=[ME],
    domains=["lovelace.dev"],
    timezone="Europe/Berlin",
    intro="I run Lovelace Analytics, a small shop that benchmarks engines and chips.",
    signature="Ada Lovelace\nLovelace Analytics · lovelace.dev",
)


INVITED_AHEAD = timedelta(days=7)


def to_meeting(case: Case) -> Meeting:
    start = case.when()
    me = Attendee(ME, ME_NAME, PartStat.DECLINED if case.user_declined else PartStat.ACCEPTED,
                  is_self=True, is_organizer=case.organizer is None)
    people = tuple(Attendee(email, name, PartStat.ACCEPTED) for name, email in case.people)
    if case.organizer is None:
        organizer = me if case.people else None
    else:
        name, email = case.organizer
        organizer = Attendee(email, name, PartStat.ACCEPTED, is_organizer=True)
    return Meeting(
        uid=f"{case.id}@eval.example",
        start=start,
        end=start + timedelta(minutes=case.minutes),
        title=case.title,
        description=case.notes,
        location=case.location,
        organizer=organizer,
        attendees=(me, *people) if case.people else (),
        status=MeetingStatus.CANCELLED if case.cancelled else MeetingStatus.CONFIRMED,
        all_day=case.all_day,
        timezone=case.tz,
    )


@dataclass
class Outcome:
    case: Case
    meeting: Meeting
    drafts: list[StoredDraft] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)


@dataclass
class Evaluation:
    outcomes: dict[str, Outcome]
    provider: MemoryProvider
    ledger: Ledger
    reports: list[CycleReport]

    @property
    def blocks(self) -> list[StoredBlock]:
        return self.provider.live_blocks()


def evaluate(ledger: Ledger, cases: tuple[Case, ...] = CASES) -> Evaluation:
    provider = MemoryProvider("eval", self_addresses=[ME])
    config = Config(user=USER)
    composer = Composer(USER)
    outcomes: dict[str, Outcome] = {}
    for case in cases:
        m = to_meeting(case)
        outcomes[m.uid] = Outcome(case, m)
        for email in case.known:
            provider.add_mail(email, m.start - timedelta(days=40), "received")
        for email, name, given in case.cards:
            provider.add_contact(email, name, given_name=given)
    account = provider.account()
    times = sorted({o.meeting.end + timedelta(minutes=15) for o in outcomes.values()})
    times.append(times[-1] + timedelta(days=3))
    reports: list[CycleReport] = []
    waiting = sorted(outcomes.values(), key=lambda o: o.meeting.start)
    for t in times:
        # Invitations arrive a week ahead, as they do: the calendar changes over the month.
        while waiting and waiting[0].meeting.start <= t + INVITED_AHEAD:
            provider.add_meeting(waiting.pop(0).meeting)
        reports.append(run_cycle(config, ledger, account, composer, t))
    for report in reports:
        for meeting, skip in report.skips:
            if meeting.uid in outcomes:
                outcomes[meeting.uid].skips.append(skip)
    for row in ledger.writes(account.name):
        if row.kind is WriteKind.DRAFT and row.meeting_uid in outcomes and row.remote_id:
            draft = provider.drafts.get(row.remote_id)
            if draft is not None:
                outcomes[row.meeting_uid].drafts.append(draft)
    return Evaluation(outcomes, provider, ledger, reports)


def body_words(draft: StoredDraft) -> int:
    """Words a reader reads, without the slot lines and the signature."""
    lines = [ln for ln in draft.body.splitlines() if not ln.startswith("- ")]
    text = "\n".join(lines)
    signature = USER.signature
    if signature in text:
        text = text.split(signature)[0]
    return len(text.split())


__all__ = ["Evaluation", "Outcome", "body_words", "dataclasses", "evaluate", "to_meeting"]

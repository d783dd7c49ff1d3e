"""One cycle for one account: sync, plan the first touches and the nurture touches, apply.

1. sync: each source's changes since its cursor go into the ledger (a failing source is
   logged and the cycle goes on with the others);
2. ended meetings (end + grace passed, not yet processed): triage, then per new person a
   contact, a draft and a block; people met before get a "Met again" note instead;
3. nurture: people whose next touch is due get a draft (and a block, weekly by default),
   unless mail went either way since the last contact;
4. apply the ledger's pending writes, exactly once (engine.apply).

Provider calls are kept to what the cycle needs: an idle cycle (nothing new, nothing due) only
asks each source for its changes. Mail history is asked once per meeting (for all its new
people at once) and once for the nurture batch; busy time at most once per cycle.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import structlog

from followup.config import Config
from followup.core.compose import Composer
from followup.core.planner import (
    NURTURE_SEARCH_DAYS,
    PersonState,
    PlanContext,
    contact_intent,
    first_touch_due,
    first_touch_window,
    nurture_due,
    plan_first_touch,
    plan_nurture,
)
from followup.core.slots import next_weekly_slot
from followup.core.triage import series_members, triage
from followup.engine.apply import Hook, apply_pending
from followup.errors import AuthError, FollowupError
from followup.ledger import Ledger, WriteRow, WriteState
from followup.model import (
    Attendee,
    Interaction,
    Interval,
    Meeting,
    RemoteState,
    Skip,
    WriteIntent,
    WriteKind,
)
from followup.protocols import Account

log = structlog.get_logger(__name__)


@dataclass
class CycleReport:
    account: str
    dry_run: bool = False
    meetings_synced: int = 0  # meetings (occurrences) the sources reported new or changed
    meetings_processed: int = 0  # ended meetings planned this cycle
    intents: list[WriteIntent] = field(default_factory=list)  # planned this cycle, new ones
    writes: Counter[tuple[WriteKind, str]] = field(default_factory=Counter)  # (kind, outcome)
    skips: list[tuple[Meeting, Skip]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    next_due: datetime | None = None  # when a cycle next has something to do
    stopped: bool = False  # stop() ended the writes early

    def written(self, kind: WriteKind, outcome: str) -> int:
        return self.writes[(kind, outcome)]


def run_cycle(
    config: Config,
    ledger: Ledger,
    account: Account,
    composer: Composer,
    now: datetime,
    *,
    dry_run: bool = False,
    stop: Callable[[], bool] = lambda: False,
    hooks: Hook | None = None,
) -> CycleReport:
    """Run one cycle. Raises AuthError when the account needs reconnecting.

    With `dry_run` nothing is written, and the ledger is left as it was except for the
    sources' cursors and the meetings they reported: the report lists the intents that would
    be recorded and the skips.
    """
    cycle = _Cycle(config, ledger, account, composer, now, dry_run)
    cycle.sync()
    cycle.first_touches()
    cycle.nurture()
    report = cycle.report
    if not dry_run:
        applied = apply_pending(ledger, account, now, stop=stop, hooks=hooks)
        report.writes.update(applied.outcomes)
        report.errors.extend(applied.errors)
        report.stopped = applied.stopped
    report.next_due = cycle.next_due()
    log.debug(
        "cycle.done", account=account.name, dry_run=dry_run, synced=report.meetings_synced,
        processed=report.meetings_processed, intents=len(report.intents),
        writes=sum(report.writes.values()), errors=len(report.errors),
    )
    return report


def plan(
    config: Config, ledger: Ledger, account: Account, composer: Composer, now: datetime
) -> CycleReport:
    """What the next cycle would do (`followup plan`): a dry run of it."""
    return run_cycle(config, ledger, account, composer, now, dry_run=True)


class _Cycle:
    def __init__(
        self,
        config: Config,
        ledger: Ledger,
        account: Account,
        composer: Composer,
        now: datetime,
        dry_run: bool,
    ) -> None:
        self.config = config
        self.schedule = config.schedule
        self.ledger = ledger
        self.account = account
        self.now = now
        self.dry_run = dry_run
        self.report = CycleReport(account.name, dry_run=dry_run)
        self.ctx = PlanContext(
            account=account.name, now=now, user=config.user, schedule=config.schedule,
            composer=composer, where_drafts_are=account.where_drafts_are,
        )
        self.self_addresses = [*config.user.addresses, *account.self_addresses]
        self.taken: list[Interval] = []  # blocks placed this cycle
        self._busy: list[Interval] | None = None
        self._busy_window: Interval | None = None
        # People as this cycle leaves them; a dry run keeps them here instead of the ledger.
        self._people: dict[str, PersonState] | None = None

    # --- 1. sync ------------------------------------------------------------------------------

    def sync(self) -> None:
        days = self.config.daemon
        window = Interval(self.now - timedelta(days=days.lookback_days),
                          self.now + timedelta(days=days.horizon_days))
        name = self.account.name
        for source in self.account.sources:
            try:
                changes = source.changes(self.ledger.get_cursor(name, source.name), window)
            except AuthError:
                raise
            except FollowupError as e:
                self._error(f"source {source.name}: {e}", "sync.failed", source=source.name)
                continue
            self.ledger.apply_changes(name, source.name, changes)
            if changes.cursor is not None:
                self.ledger.set_cursor(name, source.name, changes.cursor)
            self.report.meetings_synced += len(changes.upserts)
            self.report.errors.extend(f"source {source.name}: {e}" for e in changes.errors)

    # --- 2. first touches ---------------------------------------------------------------------

    def ended_meetings(self) -> list[Meeting]:
        lookback = timedelta(days=self.config.daemon.lookback_days + 1)
        return [
            m
            for m in self.ledger.meetings(self.account.name, self.now - lookback, self.now)
            if first_touch_due(m, self.schedule) <= self.now
            and not self.ledger.is_processed(self.account.name, m)
        ]

    def first_touches(self) -> None:
        meetings = sorted(self.ended_meetings(), key=lambda m: (m.end, m.uid))
        self._busy_window = self._window_for(meetings)
        for meeting in meetings:
            try:
                self._first_touch(meeting)
            except AuthError:
                raise
            except FollowupError as e:  # mail or busy unavailable: try the meeting next cycle
                self._error(f"meeting {meeting.uid}: {e}", "meeting.deferred", uid=meeting.uid)

    def _first_touch(self, meeting: Meeting) -> None:
        name = self.account.name
        known = self.ledger.series_members(name, meeting.uid) if meeting.is_recurring else None
        result = triage(meeting, self.config.user, self.config.triage,
                        self_addresses=self.self_addresses, known_series_members=known)
        skips = list(result.skips)
        intents: list[WriteIntent] = []
        saves: list[PersonState] = []
        new: list[Attendee] = []
        for person in result.new_people:
            state = self.person(person.email)
            if state is None:
                new.append(person)
                continue
            # Met before: no second first touch, but their card notes this meeting.
            intents.append(contact_intent(self.ctx, meeting, person, again=True))
            saves.append(replace(state, anchor=max(state.anchor, meeting.end),
                                 last_meeting_title=meeting.title))
        if new:
            interactions = self.account.mail.last_interactions(
                [p.email for p in new], since=meeting.start)
            for person in new:
                interaction = interactions.get(person.email)
                others = [p for p in result.new_people if p.email != person.email]
                busy = self.busy() if self._may_place(meeting, interaction) else []
                touch = plan_first_touch(self.ctx, meeting, person, others=others,
                                         interaction=interaction, busy=busy, taken=self.taken)
                intents.extend(touch.intents)
                skips.extend(touch.skips)
                if touch.block is not None:
                    self.taken.append(touch.block)
                saves.append(_first_state(meeting, person, touch.intents, interaction))

        self._record(intents)
        for state in saves:
            self._save(state)
        if not self.dry_run:
            if meeting.is_recurring:
                self.ledger.add_series_members(name, meeting.uid, series_members(meeting))
            self.ledger.mark_processed(name, meeting)
        self.report.meetings_processed += 1
        self.report.skips.extend((meeting, s) for s in skips)

    def _may_place(self, meeting: Meeting, interaction: Interaction | None) -> bool:
        """Whether the planner may want to place a block (else busy time is not needed)."""
        if interaction is not None and interaction.at >= meeting.end:
            return False
        deadline = meeting.end + timedelta(hours=self.schedule.deadline_hours)
        return self.now < deadline

    # --- 3. nurture ---------------------------------------------------------------------------

    def nurture(self) -> None:
        limit = self._nurture_limit()
        if limit is None:
            return
        candidates = [
            s for s in self.people().values()
            if (when := nurture_due(_closed(s), self.schedule)) is not None and when <= limit
        ]
        if not candidates:
            return
        try:
            interactions = self.account.mail.last_interactions(
                [s.email for s in candidates], since=min(s.anchor for s in candidates))
        except AuthError:
            raise
        except FollowupError as e:
            self._error(f"nurture: {e}", "nurture.deferred")
            return
        drafts = self._last_drafts() if any(s.open_touch for s in candidates) else {}

        due: list[PersonState] = []
        for state in candidates:
            seen = interactions.get(state.email)
            if seen is not None and seen.at > state.anchor:
                # They wrote, or the user did: that is the touch; the cadence restarts from it.
                self._save(replace(state, anchor=seen.at, open_touch=False))
                continue
            if state.open_touch:
                if not self._draft_gone(drafts.get(state.email)):
                    continue  # one pending touch per contact
                state = replace(state, open_touch=False)
                self._save(state)
            due.append(state)
        if not due:
            return
        intents = plan_nurture(self.ctx, due, busy=self.busy(), taken=self.taken)
        self._record(intents)
        drafted = {i.person for i in intents if i.kind is WriteKind.DRAFT}
        for state in due:
            if state.email in drafted:
                self._save(replace(state, touches=state.touches + 1, open_touch=True,
                                   anchor=self.now))

    def _nurture_limit(self) -> datetime | None:
        """People whose touch is due by this time are planned now; None: not now.

        Weekly batches are planned from the day before the weekly slot and take everyone due
        before the slot after it, so a touch is early by days rather than late by a week."""
        if not self.schedule.weekly_batch:
            return self.now
        slot = next_weekly_slot(self.now, self.schedule, self.config.user.tz)
        if self.now < slot - timedelta(days=1):
            return None
        return slot + timedelta(days=7)

    def _last_drafts(self) -> dict[str, WriteRow]:
        """Each person's latest draft write, as far as it went (done, dismissed or failed)."""
        latest: dict[str, WriteRow] = {}
        for row in self.ledger.writes(self.account.name):
            if row.kind is WriteKind.DRAFT and row.person:
                best = latest.get(row.person)
                if best is None or row.touch >= best.touch:
                    latest[row.person] = row
        return latest

    def _draft_gone(self, row: WriteRow | None) -> bool:
        """Whether an open touch's draft has left the Drafts folder (sent or deleted)."""
        if row is None or row.state in (WriteState.DISMISSED, WriteState.FAILED,
                                         WriteState.REMOVED):
            return True
        if row.state is not WriteState.DONE:
            return False  # still to be written
        try:
            state = self.account.drafts.state(row.key, row.remote_id, row.fingerprint)
        except AuthError:
            raise
        except FollowupError as e:
            self._error(f"draft {row.key}: {e}", "draft.state_failed", key=row.key)
            return False
        return state is RemoteState.MISSING

    # --- helpers ------------------------------------------------------------------------------

    def people(self) -> dict[str, PersonState]:
        if self._people is None:
            self._people = {s.email: s for s in self.ledger.people(self.account.name)}
        return self._people

    def person(self, email: str) -> PersonState | None:
        return self.people().get(email)

    def _save(self, state: PersonState) -> None:
        self.people()[state.email] = state
        if not self.dry_run:
            self.ledger.save_person(self.account.name, state)

    def _record(self, intents: Sequence[WriteIntent]) -> None:
        if not intents:
            return
        if self.dry_run:
            fresh = [i for i in intents if self.ledger.write(i.key) is None]
        else:
            self.ledger.record_intents(self.account.name, intents)
            fresh = list(intents)
        self.report.intents.extend(fresh)

    def _window_for(self, meetings: Sequence[Meeting]) -> Interval:
        """One busy-time window for everything this cycle may place: the first touches of
        `meetings` and a nurture block (up to a week to the weekly slot, then its search)."""
        end = self.now + timedelta(days=7 + NURTURE_SEARCH_DAYS + 1)
        start = self.now
        for m in meetings:
            w = first_touch_window(m, self.now, self.schedule)
            start, end = min(start, w.start), max(end, w.end)
        return Interval(start, end)

    def busy(self) -> list[Interval]:
        """The user's busy time, fetched at most once per cycle."""
        if self._busy is None:
            window = self._busy_window or self._window_for([])
            self._busy = self.account.availability.busy(window)
        return self._busy

    def _error(self, message: str, event: str, **fields: str) -> None:
        log.warning(event, account=self.account.name, error=message, **fields)
        self.report.errors.append(message)

    # --- when next -----------------------------------------------------------------------------

    def next_due(self) -> datetime | None:
        """The earliest future time a cycle has something to do: a meeting ending (plus
        grace), a nurture touch falling due, a write due or waiting to be retried."""
        times: list[datetime] = []
        name = self.account.name
        grace = timedelta(minutes=self.schedule.grace_minutes)
        ahead = self.ledger.meetings(name, self.now - grace,
                                     self.now + timedelta(days=self.config.daemon.horizon_days))
        times += [first_touch_due(m, self.schedule) for m in ahead]
        for state in self.people().values():
            due = nurture_due(_closed(state), self.schedule)
            if due is not None:
                times.append(self._nurture_wake(due))
        write_due = self.ledger.next_due(name)
        if write_due is not None:
            times.append(write_due)
        future = [t for t in times if t > self.now]
        return min(future, default=None)

    def _nurture_wake(self, due: datetime) -> datetime:
        if not self.schedule.weekly_batch:
            return due
        # Planned in the day before the first weekly slot whose batch covers `due`.
        slot = next_weekly_slot(due - timedelta(days=7), self.schedule, self.config.user.tz)
        return max(slot - timedelta(days=1), self.now)


def _closed(state: PersonState) -> PersonState:
    """The state as if its open touch were closed: when it would next be due."""
    return replace(state, open_touch=False) if state.open_touch else state


def _first_state(
    meeting: Meeting,
    person: Attendee,
    intents: Sequence[WriteIntent],
    interaction: Interaction | None,
) -> PersonState:
    drafted = any(i.kind is WriteKind.DRAFT for i in intents)
    anchor = meeting.end
    if interaction is not None and interaction.at > anchor:
        anchor = interaction.at
    return PersonState(
        email=person.email,
        name=person.name,
        first_met=meeting.start,
        last_meeting_title=meeting.title,
        anchor=anchor,
        touches=1 if drafted else 0,
        open_touch=drafted,
    )

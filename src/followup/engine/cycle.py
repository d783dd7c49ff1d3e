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
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import structlog

from followup.config import Config
from followup.core.compose import Composer, TemplateProblem
from followup.core.drafting import BlockDraft, BlockItem, Recipient, person_label
from followup.core.later import enrol, met_again
from followup.core.material import Material, read_material
from followup.core.networking import (
    meeting_skip,
    nobody_skip,
    organised_by_user,
    rules_for,
    with_people_from_notes,
)
from followup.core.planner import (
    NURTURE_SEARCH_DAYS,
    MeetingPlan,
    PersonState,
    PlanContext,
    contact_intent,
    first_touch_due,
    first_touch_window,
    plan_first_touch,
    plan_first_touch_block,
    send_window_start,
    their_zone,
    working_start,
)
from followup.core.slottext import format_slot
from followup.core.triage import normalise_email, people_present, series_members, triage
from followup.engine import cadence
from followup.engine.apply import Hook, apply_pending
from followup.errors import AuthError, FollowupError
from followup.ical.parse import stop_reading_when
from followup.ledger import Ledger, WriteRow, WriteState
from followup.model import (
    Attendee,
    BlockPayload,
    Card,
    DraftPayload,
    Interaction,
    Interval,
    Meeting,
    Skip,
    WriteIntent,
    WriteKind,
)
from followup.protocols import Account

log = structlog.get_logger(__name__)

# How far back the mail history is asked about a new person: mail before the meeting means
# they are known (no "good to meet you"), mail after it means the follow-up already happened.
KNOWN_LOOKBACK = timedelta(days=365)
# How long before its start a block can fall due, at most (see _ledger_blocks).
BLOCK_LEAD = timedelta(days=45)


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
    # First-touch drafts whose block waits for working hours (a weekend's meetings): when.
    blocks_waiting_until: datetime | None = None
    stopped: bool = False  # stop() ended the writes early
    # Sources that could not be read at all (a missing folder, an unreachable URL): `run
    # --once` exits 1 for them, as for failed writes. A skipped file is not one of them.
    sources_failed: list[str] = field(default_factory=list)
    # Everyone in the cadence as the cycle left them (status and reason, for `plan`).
    people: list[PersonState] = field(default_factory=list)

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
    cycle.first_start = cadence.first_start(cycle)
    with stop_reading_when(stop):  # a huge or hostile calendar must not outlive SIGTERM
        cycle.sync()
    if cycle.first_start:
        cadence.backfill(cycle)
    cycle.first_touches()
    cycle.release_holds()
    cycle.nurture()
    report = cycle.report
    if not dry_run:
        applied = apply_pending(ledger, account, now, stop=stop, hooks=hooks)
        report.writes.update(applied.outcomes)
        report.errors.extend(applied.errors)
        report.stopped = applied.stopped
    report.next_due = cycle.next_due()
    report.people = sorted(cycle.people().values(), key=lambda p: p.email)
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
            drafts=config.drafts,
        )
        self.self_addresses = [*config.user.addresses, *account.self_addresses]
        self.taken: list[Interval] = []  # blocks placed this cycle
        self._offered: list[Interval] = []  # slots offered in drafts planned this cycle
        self._plain_busy: list[Interval] = []  # busy() without the offered slots
        self._held: list[Interval] | None = None  # slots held by earlier drafts (ledger)
        self._deferred_wake: datetime | None = None  # when waiting drafts get their block
        self._first_touch_rows: list[WriteRow] | None = None  # see _recent_first_touch
        self._busy: list[Interval] | None = None
        self._blocks: list[Interval] | None = None  # the ledger's blocks, read once a cycle
        self._busy_window: Interval | None = None
        # People as this cycle leaves them; a dry run keeps them here instead of the ledger.
        self._people: dict[str, PersonState] | None = None
        self.first_start = False  # no source has synced yet: read back `backfill_days`

    # --- 1. sync ------------------------------------------------------------------------------

    def sync(self) -> None:
        days = self.config.daemon
        back = max(days.lookback_days, days.backfill_days) if self.first_start \
            else days.lookback_days
        window = Interval(self.now - timedelta(days=back),
                          self.now + timedelta(days=days.horizon_days))
        name = self.account.name
        for source in self.account.sources:
            cursor = self.ledger.get_cursor(name, source.name)
            try:
                changes = source.changes(cursor, window)
            except AuthError:
                raise
            except FollowupError as e:
                self._error(f"source {source.name}: {e}", "sync.failed", source=source.name)
                self.report.sources_failed.append(source.name)
                continue
            self.ledger.apply_changes(name, source.name, changes)
            if changes.cursor is not None and changes.cursor != cursor:  # idle: no write
                self.ledger.set_cursor(name, source.name, changes.cursor)
            self.report.meetings_synced += len(changes.upserts)
            self.report.errors.extend(f"source {source.name}: {e}" for e in changes.errors)

    # --- 2. first touches ---------------------------------------------------------------------

    def ended_meetings(self) -> list[Meeting]:
        lookback = timedelta(days=self.config.daemon.lookback_days + 1)
        due = [m for m in self.ledger.meetings(self.account.name, self.now - lookback, self.now)
               if first_touch_due(m, self.schedule) <= self.now]
        if not due:
            return []
        # One query for the whole window, not one per meeting (an idle cycle over a big
        # calendar asked hundreds of times).
        done = self.ledger.processed_in(self.account.name, min(m.occurrence for m in due),
                                        max(m.occurrence for m in due))
        return [m for m in due if (m.uid, m.occurrence.astimezone(UTC)) not in done]

    def first_touches(self) -> None:
        """Plan every ended meeting's first touch, then one block per half-day's batch of
        them, then record it all: a crash before the meetings are marked processed replans
        them with the same keys, so nothing is written twice."""
        meetings = sorted(self.ended_meetings(), key=lambda m: (m.end, m.uid))
        self._busy_window = self._window_for(meetings)
        planned: list[_Planned] = []
        for meeting in meetings:
            try:
                planned.append(self._first_touch(meeting))
            except AuthError:
                raise
            except FollowupError as e:  # mail or busy unavailable: try the meeting next cycle
                self._error(f"meeting {meeting.uid}: {e}", "meeting.deferred", uid=meeting.uid)
            except TemplateProblem as e:  # a user's template: fixed, the meeting goes on
                self._error(f"meeting {meeting.uid}: {e}", "meeting.template_failed",
                            uid=meeting.uid)
        for batch in _half_days(planned, self.config.user.tz):
            # A meeting that ended outside working hours (an evening, a conference weekend)
            # waits for the next working window: all such meetings then share one block.
            self._place_block([p for p in batch if self._block_window(p.meeting) <= self.now])
        for item in planned:
            self._commit(item)
        self._deferred_blocks()

    def _first_touch(self, meeting: Meeting) -> _Planned:
        name = self.account.name
        user = self.config.user
        own = {a.lower() for a in self.self_addresses}
        material = read_material(
            meeting.description, title=meeting.title,
            by_user=organised_by_user(meeting, user, own),
        )
        done = _Planned(meeting)
        skip = meeting_skip(meeting, material)
        if skip is not None:
            done.skips.append(skip)
            return done
        meeting = with_people_from_notes(meeting, material, user)
        done.meeting = meeting
        tuned_user, rules = rules_for(meeting, material, user, self.config.triage)
        known = self.ledger.series_members(name, meeting.uid) if meeting.is_recurring else None
        result = triage(meeting, tuned_user, rules,
                        self_addresses=self.self_addresses, known_series_members=known)
        done.skips.extend(result.skips)
        if not result.new_people and not result.skips:
            done.skips.append(nobody_skip())
        new: list[Attendee] = []
        for person in result.new_people:
            state = self.person(person.email)
            if state is None:
                new.append(person)
                continue
            # Met before: no second first touch, but their card notes this meeting.
            done.intents.append(contact_intent(self.ctx, meeting, person, again=True,
                                               notes=material.private))
            done.saves.append(met_again(state, meeting, material, user.tz))
            self.people()[person.email] = done.saves[-1]  # a third meeting this cycle sees it
        if not new:
            return done
        # One look at the mail history tells both who was written to since the meeting
        # (no draft needed) and who was known before it (no "good to meet you").
        interactions = self.account.mail.last_interactions(
            [p.email for p in new], since=meeting.start - KNOWN_LOOKBACK)
        recipients = self._recipients(meeting, new, interactions)
        deadline = meeting.end + timedelta(hours=self.schedule.deadline_hours)
        writing = self.now < deadline and any(
            (i := interactions.get(p.email)) is None or i.at < meeting.end for p in new)
        new_emails = {n.email for n in new}
        plan = plan_first_touch(
            self.ctx, meeting, new, material=material, interactions=interactions,
            recipients=recipients, busy=self.proposal_busy() if writing else [],
            taken=self.taken,
            offers=self.offered() if writing else [],
            others=[p for p in people_present(meeting, result.skips)
                    if normalise_email(p.email) not in new_emails],
        )
        done.plan = plan
        done.intents.extend(plan.intents)
        done.skips.extend(plan.skips)
        for key, slots in plan.offers:
            self._offered.extend(slots)
            done.offers.append((key, slots))
        for person in new:
            done.saves.append(_first_state(meeting, person, plan.drafted.get(person.email),
                                           interactions.get(person.email), material, user.tz))
            # Met now: a later meeting of this same cycle (a talk, then lunch) gives them a
            # "Met again" note, not a second first note. Recorded in _commit.
            self.people()[person.email] = done.saves[-1]
        return done

    def _recipients(
        self, meeting: Meeting, people: Sequence[Attendee], interactions: dict[str, Interaction]
    ) -> dict[str, Recipient]:
        """What the address book and the mail knew of each person before this meeting."""
        cards: dict[str, Card] = {}
        book = self.account.address_book
        if book is not None:
            try:
                cards = book.lookup([p.email for p in people])
            except AuthError:
                raise
            except FollowupError as e:  # the greeting falls back to the invite's name
                log.warning("address_book.unavailable", account=self.account.name,
                            error=str(e))
        out: dict[str, Recipient] = {}
        for p in people:
            seen = interactions.get(p.email)
            card = cards.get(p.email)
            out[p.email] = Recipient(
                attendee=p,
                known=card is not None or _known_from_mail(seen, meeting),
                card_name=card.name if card else None,
                card_given_name=card.given_name if card else None,
            )
        return out

    def _place_block(self, batch: Sequence[_Planned]) -> None:
        intent = self._block_for([item.plan for item in batch if item.plan is not None])
        if intent is not None:
            batch[0].intents.append(intent)

    def _block_for(self, plans: Sequence[MeetingPlan]) -> WriteIntent | None:
        """One block for these meetings' drafts, clear of busy time (offered slots and the
        ledger's blocks included) and of the blocks this cycle placed already."""
        if not plans:
            return None
        placed = plan_first_touch_block(self.ctx, plans, busy=[*self.busy(), *self._offered],
                                        taken=self.taken, ours=self._ours())
        if placed is None:
            return None
        intent, interval = placed
        self.taken.append(interval)
        return intent

    def _block_window(self, meeting: Meeting) -> datetime:
        """When a block for this meeting can first be placed: the start of the first working
        window at or after its end plus grace (now, if that window is open)."""
        return send_window_start(self.ctx, meeting)

    def _deferred_blocks(self) -> None:
        """One block for the first-touch drafts that no block lists yet and whose working
        window has opened (the weekend's meetings on Monday morning), rebuilt from the
        ledger: the drafts were recorded cycles ago."""
        rows = self._recent_first_touch()
        listed = {k for r in rows if isinstance(r.payload, BlockPayload)
                  and not r.payload.tentative
                  for k in r.payload.draft_keys}
        since = self.now - timedelta(hours=self.schedule.deadline_hours + 24)
        waiting = [r for r in rows if r.kind is WriteKind.DRAFT and r.key not in listed
                   and r.due >= since
                   and r.state not in (WriteState.DISMISSED, WriteState.REMOVED)
                   and r.meeting_uid]
        if not waiting:
            return
        grace = timedelta(minutes=self.schedule.grace_minutes)
        ready = [r for r in waiting if working_start(self.ctx, r.due) <= self.now]
        later = [working_start(self.ctx, r.due) for r in waiting if r not in ready]
        self._deferred_wake = min(later, default=None)
        self.report.blocks_waiting_until = self._deferred_wake
        if not ready:
            return
        intent = self._block_for(self._rebuilt_plans(ready, grace))
        if intent is not None:
            self._record([intent])

    def _recent_first_touch(self) -> list[WriteRow]:
        """First-touch drafts and blocks recent enough to still need a block or hold a slot,
        read once a cycle (the waiting drafts and the held offers both look at them)."""
        if self._first_touch_rows is None:
            since = self.now - timedelta(
                hours=self.schedule.deadline_hours + self.config.drafts.offer_hold_hours + 24)
            self._first_touch_rows = self.ledger.first_touch_writes(self.account.name, since)
        return self._first_touch_rows

    def _holds(self) -> list[WriteRow]:
        """The tentative events written to hold offered times, for slots still ahead."""
        return [r for r in self._recent_first_touch()
                if isinstance(r.payload, BlockPayload) and r.payload.tentative
                and r.state is WriteState.DONE and r.payload.start > self.now]

    def release_holds(self) -> None:
        """Remove the tentative events holding offered times whose offer is gone: the draft
        was deleted unsent, the hold passed, or the slot began ([drafts] hold_offers)."""
        if self.dry_run:
            return
        name = self.account.name
        holds = self._holds()
        if not holds:
            return
        # A held draft deleted unsent frees its times now, not when the hold lapses: one look
        # at each held draft's state (only while the user has holds: an opt-in).
        self._deleted_drafts({k for r in holds if isinstance(r.payload, BlockPayload)
                              for k in r.payload.draft_keys})
        live = {(o.draft_key, o.start) for o in self.ledger.live_offers(name, self.now)}
        for row in holds:
            assert isinstance(row.payload, BlockPayload)
            if any((k, row.payload.start) in live for k in row.payload.draft_keys):
                continue
            try:
                outcome = self.account.blocks.remove(row.key, row.remote_id, row.fingerprint)
            except AuthError:
                raise
            except FollowupError as e:  # tried again next cycle
                self._error(f"hold {row.key}: {e}", "hold.release_failed", key=row.key)
                continue
            self.ledger.mark_removed(row.key, outcome)
            log.info("hold.released", account=name, key=row.key, outcome=outcome.value)

    def _rebuilt_plans(self, rows: Sequence[WriteRow], grace: timedelta) -> list[MeetingPlan]:
        """What each meeting's part of a block needs, from the ledger: the meeting as
        stored, its drafts, the slots they offered."""
        by_meeting: dict[tuple[str, datetime | None], list[WriteRow]] = {}
        for r in rows:
            by_meeting.setdefault((r.meeting_uid, r.occurrence), []).append(r)
        offers = self.ledger.offers_of(self.account.name, [r.key for r in rows])
        plans: list[MeetingPlan] = []
        tz = self.config.user.tz
        for (uid, occurrence), drafts in by_meeting.items():
            end = drafts[0].due - grace
            found = [m for m in self.ledger.meetings(self.account.name,
                                                     end - timedelta(days=3), end)
                     if m.uid == uid and m.occurrence == occurrence]
            if not found:
                continue
            meeting = found[0]
            own = {a.lower() for a in self.self_addresses}
            material = read_material(meeting.description, title=meeting.title,
                                     by_user=organised_by_user(meeting, self.config.user, own))
            zone = their_zone(meeting, tz)
            block_drafts: list[BlockDraft] = []
            offered: list[str] = []
            recipients: set[str] = set()
            for r in drafts:
                if not isinstance(r.payload, DraftPayload):
                    continue
                to = tuple(f"{person_label(a, n)} <{a}>" for n, a in r.payload.to)
                recipients.update(a for _, a in r.payload.to)
                block_drafts.append(BlockDraft(r.key, to, r.payload.subject))
                for slot in offers.get(r.key, []):
                    text = format_slot(slot, tz, zone)
                    if text not in offered:
                        offered.append(text)
            judged = triage(meeting, self.config.user, self.config.triage,
                            self_addresses=self.self_addresses, known_series_members=None)
            others = tuple(person_label(p.email, p.name)
                           for p in people_present(meeting, judged.skips)
                           if normalise_email(p.email) not in recipients)
            plan = MeetingPlan(meeting)
            plan.block_item = BlockItem(meeting=meeting, material=material,
                                        drafts=tuple(block_drafts), promises=material.promises,
                                        offered=tuple(offered), others=others)
            plans.append(plan)
        return plans

    def _commit(self, item: _Planned) -> None:
        name = self.account.name
        meeting = item.meeting
        self._record(item.intents)
        for state in item.saves:
            self._save(state)
        if not self.dry_run:
            hold = self.now + timedelta(hours=self.config.drafts.offer_hold_hours)
            for key, slots in item.offers:
                self.ledger.record_offers(name, key, slots, hold)
            if meeting.is_recurring:
                self.ledger.add_series_members(name, meeting.uid, series_members(meeting))
            self.ledger.record_skips(name, meeting, item.skips)  # for `followup log`
            self.ledger.mark_processed(name, meeting)
        self.report.meetings_processed += 1
        self.report.skips.extend((meeting, s) for s in item.skips)

    # --- 3. nurture ---------------------------------------------------------------------------

    def nurture(self) -> None:
        """Later touches (engine.cadence)."""
        if self._busy is not None:
            # Read before this cycle's first-touch drafts offered their slots: the nurture
            # blocks keep clear of those too (the weekly batch wants Friday 15:00, which a
            # draft written on Thursday may well offer).
            self._busy.extend(self._offered)
        cadence.run_nurture(self)

    def _draft_gone(self, row: WriteRow | None) -> bool:
        """Whether an open touch's draft has left the Drafts folder (sent or deleted)."""
        return cadence.draft_gone(self, row)

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
        """The user's busy time, fetched at most once per cycle, plus every follow-up block
        the ledger knows that the calendar may not show yet (pending, waiting for a retry,
        written a moment ago), so that blocks of different cycles and processes never
        overlap, and the slots earlier drafts offered (a block never lands in one)."""
        if self._busy is None:
            window = self._busy_window or self._window_for([])
            busy = list(self.account.availability.busy(window))
            busy.extend(b for b in self._ledger_blocks() if b.end > window.start
                        and b.start < window.end)
            self._plain_busy = list(busy)
            busy.extend(self.offered())
            self._busy = busy
        return self._busy

    def proposal_busy(self) -> list[Interval]:
        """Busy time for proposing slots: without the offered ones, which the planner weighs
        itself (a slot may go to `max_offers_per_slot` open drafts, across cycles too)."""
        self.busy()
        return self._plain_busy

    def _ledger_blocks(self) -> list[Interval]:
        """Once a cycle: the blocks it places later are in `taken`."""
        if self._blocks is None:
            states = (WriteState.PENDING, WriteState.FAILED, WriteState.DONE)
            # A block starts at most a few weeks after it falls due (a late first touch: the
            # deadline plus a fortnight's search), so older rows cannot still be ahead.
            since = self.now - BLOCK_LEAD
            self._blocks = [
                Interval(row.payload.start, row.payload.end)
                for row in self.ledger.recent_writes(self.account.name, since,
                                                     (WriteKind.BLOCK,), states=states)
                if isinstance(row.payload, BlockPayload) and row.payload.end > self.now
            ]
        return self._blocks

    def _ours(self) -> list[Interval]:
        """The follow-up blocks and offered slots among the busy time: what even a block
        with no free time left (a conference week) must not overlap."""
        return [*self._ledger_blocks(), *self.offered()]

    def offered(self) -> list[Interval]:
        """Slots that drafts of earlier cycles offered and that are still held. A draft the
        user deleted without sending frees its slots (asked only when planning, so an idle
        cycle stays one request)."""
        if self._held is None:
            offers = self.ledger.live_offers(self.account.name, self.now)
            deleted = self._deleted_drafts({o.draft_key for o in offers})
            self._held = [o.interval for o in offers if o.draft_key not in deleted]
        return [*self._held, *self._offered]

    def _deleted_drafts(self, keys: set[str]) -> set[str]:
        deleted: set[str] = set()
        for key in sorted(keys):
            row = self.ledger.write(key)
            if row is None or row.state is not WriteState.DONE:
                continue
            if not isinstance(row.payload, DraftPayload) or not self._draft_gone(row):
                continue
            # Gone from Drafts: sent (the offer stands) or deleted (it is free again).
            since = row.due  # written at or after its due time (done_at is the wall clock)
            sent = self.account.mail.last_interactions(
                [addr for _, addr in row.payload.to], since=since)
            if any(i.direction == "sent" for i in sent.values()):
                continue
            deleted.add(key)
            if not self.dry_run:
                self.ledger.release_offers(self.account.name, key)
        return deleted

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
            wake = cadence.nurture_wake(self, state)
            if wake is not None:
                times.append(wake)
        write_due = self.ledger.next_due(name)
        if write_due is not None:
            times.append(write_due)
        if self._deferred_wake is not None:
            times.append(self._deferred_wake)
        holds = self._holds()
        if holds:  # a hold is released when its offer lapses: a cycle must be there then
            held = {k for r in holds if isinstance(r.payload, BlockPayload)
                    for k in r.payload.draft_keys}
            times += [o.hold_until for o in self.ledger.live_offers(name, self.now)
                      if o.draft_key in held and o.hold_until is not None]
        future = [t for t in times if t > self.now]
        return min(future, default=None)


@dataclass
class _Planned:
    """One ended meeting as this cycle planned it, before anything is recorded."""

    meeting: Meeting
    plan: MeetingPlan | None = None
    intents: list[WriteIntent] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    saves: list[PersonState] = field(default_factory=list)
    offers: list[tuple[str, list[Interval]]] = field(default_factory=list)


# Mail received this close before a meeting may be the invitation itself: only older mail
# from them, or any mail the user sent them, shows a relationship.
INVITATION_WINDOW = timedelta(days=7)


def _known_from_mail(seen: Interaction | None, meeting: Meeting) -> bool:
    """Whether the mail history shows the person was known before this meeting."""
    if seen is None or seen.at >= meeting.start:
        return False
    return seen.direction == "sent" or seen.at < meeting.start - INVITATION_WINDOW


def _half_days(planned: Sequence[_Planned], tz: ZoneInfo) -> list[list[_Planned]]:
    """Meetings batched for their blocks: those that ended in the same half-day (local
    morning or afternoon) share one block, not one block each (a conference's day)."""
    batches: dict[tuple[date, bool], list[_Planned]] = {}
    for item in planned:
        local = item.meeting.end.astimezone(tz)
        batches.setdefault((local.date(), local.hour < 13), []).append(item)
    return list(batches.values())


def _first_state(
    meeting: Meeting,
    person: Attendee,
    draft_key: str | None,
    interaction: Interaction | None,
    material: Material,
    tz: ZoneInfo,
) -> PersonState:
    drafted = draft_key is not None
    anchor = meeting.end
    if interaction is not None and interaction.at > anchor:
        anchor = interaction.at
    # The notes and what the contact asked for stay with the person for later touches.
    return enrol(meeting, person.email, person.name, material=material, tz=tz,
                 anchor=anchor, touches=1 if drafted else 0, open_touch=drafted)

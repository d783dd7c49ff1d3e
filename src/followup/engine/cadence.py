"""The cadence in a cycle (PLAYBOOK §3–4): who is due a later touch, what ends, pauses or
slows a sequence, and the first start's enrolment of people met before.

The rules, in the order a cycle applies them to each person whose next touch may be due:
- the open touch's draft is still in Drafts: wait (one pending touch per contact); for a
  first touch whose block the user deleted, the sequence ends ("not this person");
- it left Drafts without being sent: a deleted first draft ends the sequence, a deleted
  later one is a skipped touch (the next one comes a cadence later);
- it was sent: one more touch without an answer; after `unanswered_limit` of them the
  cadence is quarterly or stops (`after_unanswered`);
- they replied, or the user wrote to them by hand: the cadence waits until the conversation
  has been quiet for `cadence_min_days`, and the unanswered count starts again;
- otherwise the touch is due: a draft replying in the thread of the last mail (or, when they
  asked for a call, a call reminder), batched on the weekly day, never before it is due.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from followup.core.later import LaterTouch, enrol, later_touch
from followup.core.material import read_material
from followup.core.networking import (
    meeting_skip,
    organised_by_user,
    rules_for,
    with_people_from_notes,
)
from followup.core.offdays import OffDays
from followup.core.planner import (
    first_touch_due,
    nurture_due,
    part_key,
    plan_nurture,
    slowed,
    weekly_slot,
)
from followup.core.resources import Resource, load_resources
from followup.core.state import PersonState
from followup.core.text import format_short_date
from followup.core.triage import triage
from followup.errors import AuthError, FollowupError
from followup.ledger import WriteRow, WriteState
from followup.model import (
    BlockPayload,
    DraftPayload,
    Interaction,
    Interval,
    RemoteState,
    WriteKind,
)

if TYPE_CHECKING:
    from followup.engine.cycle import _Cycle

log = structlog.get_logger(__name__)

# How far before the first meeting the mail is searched for the thread to reply in.
THREAD_LOOKBACK = timedelta(days=365)


def closed(state: PersonState) -> PersonState:
    """The state as if its open touch were closed: when it would next be due."""
    return replace(state, open_touch=False) if state.open_touch else state


def offdays(c: _Cycle, busy: list[Interval] | None = None) -> OffDays:
    """Holidays of the user's country, and (given the busy time) the days they are away."""
    return OffDays(c.config.user.country, c.config.user.tz, c.schedule, busy or [])


def _day(when: datetime, c: _Cycle) -> str:
    return format_short_date(when, c.config.user.tz)


# --- which touches are due ----------------------------------------------------------------


def nurture_limit(c: _Cycle) -> datetime | None:
    """People whose touch is due by this time are planned now; None: not now.

    Weekly batches are planned from the day before the batch's slot (moved off holidays) and
    take only the touches due by the slot itself: a touch that misses it waits a week."""
    if not c.schedule.weekly_batch:
        return c.now
    slot = weekly_slot(c.ctx, c.now, offdays(c))
    if c.now < slot.at - timedelta(days=1):
        return None
    return slot.at


def run_nurture(c: _Cycle) -> None:
    limit = nurture_limit(c)
    people = list(c.people().values())
    # `plan` shows what became of every open touch, not only of those due.
    candidates = [s for s in people if s.open_touch and s.status == "active"] \
        if c.dry_run else []
    if limit is not None:
        listed = {s.email for s in candidates}
        candidates += [
            s for s in people
            if s.email not in listed
            and (when := nurture_due(closed(s), c.schedule)) is not None and when <= limit
        ]
    if not candidates:
        return
    try:
        since = min(s.first_met for s in candidates) - THREAD_LOOKBACK
        interactions = c.account.mail.last_interactions([s.email for s in candidates],
                                                        since=since)
    except AuthError:
        raise
    except FollowupError as e:
        c._error(f"nurture: {e}", "nurture.deferred")
        return
    drafts = last_drafts(c) if any(s.open_touch for s in candidates) else {}

    due: list[PersonState] = []
    for state in candidates:
        seen = interactions.get(state.email)
        state = settle(c, state, seen, drafts.get(state.email))
        when = nurture_due(state, c.schedule)
        if limit is not None and when is not None and when <= limit:
            due.append(state)
    if not due:
        return
    plan_touches(c, due, interactions)


def settle(
    c: _Cycle, state: PersonState, seen: Interaction | None, row: WriteRow | None
) -> PersonState:
    """What the mailbox says of a person since their anchor: the state saved, returned."""
    new = state
    if state.open_touch:
        new = _close_touch(c, state, seen, row)
    elif seen is not None and seen.at > state.anchor:
        new = _conversation(state, seen, c)
    if new != state:
        c._save(new)
    return new


def _conversation(state: PersonState, seen: Interaction, c: _Cycle) -> PersonState:
    """They wrote, or the user did by hand: the cadence waits for a quiet conversation."""
    who = "They replied" if seen.direction == "received" else "You wrote to them"
    quiet = seen.at + timedelta(days=c.schedule.cadence_min_days)
    return replace(
        state, anchor=seen.at, open_touch=False, unanswered=0, status="talking",
        reason=f"{who} on {_day(seen.at, c)}: the next touch once it has been quiet until "
               f"{_day(quiet, c)}.",
    )


def _close_touch(
    c: _Cycle, state: PersonState, seen: Interaction | None, row: WriteRow | None
) -> PersonState:
    # The anchor is when the touch was drafted (the meeting's end for a first touch): the
    # ledger's own timestamps are the wall clock's, not the mailbox's.
    written = state.anchor
    if seen is not None and seen.direction == "received" and seen.at > state.anchor:
        return _conversation(state, seen, c)
    # Mail the user sent that is not our draft (another Message-ID): written by hand.
    ours = row.payload.message_id if row is not None and isinstance(
        row.payload, DraftPayload) else None
    if seen is not None and seen.direction == "sent" and seen.at > state.anchor \
            and seen.message_id and ours and seen.message_id != ours:
        return _conversation(state, seen, c)
    # The mail shows the touch went out (a provider may still list a sent draft: Graph
    # keeps its id in Sent Items).
    if seen is not None and seen.direction == "sent" and seen.at >= written:
        return _sent_unanswered(c, state, seen)
    if not draft_gone(c, row):
        if state.touches == 1 and row is not None and first_block_deleted(c, row):
            return replace(state, open_touch=False, status="ended",
                           reason="You deleted the first follow-up block: not this person.")
        return state
    if row is not None and row.state is WriteState.FAILED:
        return replace(state, open_touch=False, anchor=c.now,
                       reason="The last draft could not be written.")
    if state.touches <= 1:
        return replace(state, open_touch=False, status="ended",
                       reason=f"You deleted the first draft (noticed {_day(c.now, c)}): not "
                              "this person.")
    return replace(state, open_touch=False, anchor=c.now,
                   reason=f"You deleted the draft of touch {state.touches}: the next one "
                          "comes a cadence later.")


def _sent_unanswered(c: _Cycle, state: PersonState, seen: Interaction) -> PersonState:
    unanswered = state.unanswered + 1
    limit = c.schedule.unanswered_limit
    new = replace(state, open_touch=False, anchor=seen.at, unanswered=unanswered,
                  status="active", reason="")
    if limit and unanswered >= limit:
        if c.schedule.after_unanswered == "stop":
            return replace(new, status="ended",
                           reason=f"{unanswered} touches in a row went unanswered: stopped.")
        return replace(new, reason=f"{unanswered} touches in a row went unanswered: "
                                   "the cadence is quarterly now.")
    return new


def last_drafts(c: _Cycle) -> dict[str, WriteRow]:
    """Each person's latest draft write, as far as it went (done, dismissed or failed)."""
    latest: dict[str, WriteRow] = {}
    for row in c.ledger.writes(c.account.name):
        if row.kind is not WriteKind.DRAFT or not row.person:
            continue
        # A draft to several people of one meeting is each one's latest draft.
        people = {row.person}
        if isinstance(row.payload, DraftPayload):
            people.update(addr.lower() for _, addr in row.payload.to)
        for person in people:
            best = latest.get(person)
            if best is None or row.touch >= best.touch:
                latest[person] = row
    return latest


def draft_gone(c: _Cycle, row: WriteRow | None) -> bool:
    """Whether an open touch's draft has left the Drafts folder (sent or deleted)."""
    if row is None or row.state in (WriteState.DISMISSED, WriteState.FAILED,
                                     WriteState.REMOVED):
        return True
    if row.state is not WriteState.DONE:
        return False  # still to be written
    try:
        state = c.account.drafts.state(row.key, row.remote_id, row.fingerprint)
    except AuthError:
        raise
    except FollowupError as e:
        c._error(f"draft {row.key}: {e}", "draft.state_failed", key=row.key)
        return False
    return state is RemoteState.MISSING


def first_block_deleted(c: _Cycle, draft: WriteRow) -> bool:
    """Whether the user deleted the block that reminded them of this first draft."""
    for row in c.ledger.writes(c.account.name):
        if row.kind is not WriteKind.BLOCK or not isinstance(row.payload, BlockPayload):
            continue
        if draft.key not in row.payload.draft_keys:
            continue
        if row.state in (WriteState.DISMISSED, WriteState.REMOVED):
            return True
        if row.state is not WriteState.DONE:
            return False
        try:
            state = c.account.blocks.state(row.key, row.remote_id, row.fingerprint)
        except AuthError:
            raise
        except FollowupError as e:
            c._error(f"block {row.key}: {e}", "block.state_failed", key=row.key)
            return False
        return state is RemoteState.MISSING
    return False


# --- planning the touches -------------------------------------------------------------------


def resources(c: _Cycle) -> list[Resource]:
    path = c.config.drafts.resources_file
    return load_resources(Path(path).expanduser() if path else None)


def plan_touches(
    c: _Cycle, due: list[PersonState], interactions: dict[str, Interaction]
) -> None:
    mine = resources(c)
    busy = c.busy()
    days = offdays(c, busy)
    touches: list[LaterTouch] = []
    for state in due:
        when = nurture_due(state, c.schedule)
        assert when is not None
        touches.append(later_touch(state, when, interactions.get(state.email), mine,
                                   c.config.user.language))
    part = 0
    if c.schedule.weekly_batch:
        slot = weekly_slot(c.ctx, c.now, days)
        # A day away can move the batch earlier than the slot the candidates were read for.
        touches = [t for t in touches if t.due <= slot.at]
        # Blocks this week's batch already has (an earlier cycle's): new ones come after.
        while c.ledger.write(part_key(c.account.name, slot.usual, part)) is not None:
            part += 1
    if not touches:
        return
    intents = plan_nurture(c.ctx, touches, busy=busy, taken=c.taken, offdays=days, part=part,
                           ours=c._ours())
    c._record(intents)
    for i in intents:
        if i.kind is WriteKind.BLOCK and isinstance(i.payload, BlockPayload):
            c.taken.append(Interval(i.payload.start, i.payload.end))
    drafted = {i.person: i for i in intents if i.kind is WriteKind.DRAFT}
    for t in touches:
        state = t.state
        email = state.email
        if email not in drafted and not t.call:
            continue  # not planned (cannot happen: each gets a draft or a call block)
        given = state.given
        if t.gift.ident and t.gift.ident not in given:
            given = (*given, t.gift.ident)
        when = drafted[email].due if email in drafted else max(c.now, t.due)
        c._save(replace(
            state, touches=state.touches + 1, open_touch=email in drafted, anchor=when,
            status="active", asked_at=None, channel="email", given=given,
            # Only the slowed cadence is still news; why it paused or was skipped is history.
            reason=state.reason if slowed(state, c.schedule) else "",
        ))


# --- when next ------------------------------------------------------------------------------


def nurture_wake(c: _Cycle, state: PersonState) -> datetime | None:
    """When a cycle should look at this person next: their touch falling due, or for a
    weekly batch the day before the first slot whose batch takes it."""
    due = nurture_due(closed(state), c.schedule)
    if due is None:
        return None
    if not c.schedule.weekly_batch:
        return due
    days = offdays(c)
    slot = weekly_slot(c.ctx, due, days)
    # The batch is read from the day before its slot: the slot must not come before `due`.
    while slot.at < due:
        slot = weekly_slot(c.ctx, slot.usual + timedelta(days=1), days)
    return max(slot.at - timedelta(days=1), c.now)


# --- first start ----------------------------------------------------------------------------


def first_start(c: _Cycle) -> bool:
    """Whether this account has yet to complete a real cycle with this ledger (a first start,
    or a new ledger): `followup plan` before it shows what the first cycle will enrol, and
    does not use it up."""
    return c.ledger.adopting(c.account.name)


def backfill(c: _Cycle) -> None:
    """On a first start, people met in the last `backfill_days` (before the first-touch
    lookback) join the cadence: no first-touch draft for an old meeting, only later touches
    when they fall due. Their rows are the whole of it: nothing is written now."""
    days = c.config.daemon.backfill_days
    if days <= 0:
        return
    name = c.account.name
    lookback = timedelta(days=c.config.daemon.lookback_days + 1)
    start, end = c.now - timedelta(days=days), c.now - lookback
    if start >= end:
        return
    user = c.config.user
    own = {a.lower() for a in c.self_addresses}
    enrolled = 0
    for meeting in sorted(c.ledger.meetings(name, start, end), key=lambda m: m.end):
        # A series is left to the first-touch path: who is new in it depends on history.
        if first_touch_due(meeting, c.schedule) > c.now or meeting.is_recurring:
            continue
        material = read_material(meeting.description, title=meeting.title,
                                 by_user=organised_by_user(meeting, user, own))
        if meeting_skip(meeting, material) is not None:
            continue
        meeting = with_people_from_notes(meeting, material, user)
        tuned_user, rules = rules_for(meeting, material, user, c.config.triage)
        result = triage(meeting, tuned_user, rules, self_addresses=c.self_addresses,
                        known_series_members=None)
        for person in result.new_people:
            known = c.person(person.email)
            if known is not None:
                if meeting.end > known.anchor:
                    c._save(replace(known, anchor=meeting.end, last_meeting_title=meeting.title,
                                    last_met=meeting.start, notes=material.private or known.notes))
                continue
            state = enrol(meeting, person.email, person.name, material=material,
                          tz=user.tz, anchor=meeting.end, touches=1, open_touch=False)
            c._save(replace(state, reason=f"Met {_day(meeting.start, c)}, before followup "
                                          "started: joined the cadence."))
            enrolled += 1
        if not c.dry_run:
            c.ledger.mark_processed(name, meeting)
    if enrolled:
        log.info("cadence.backfilled", account=name, people=enrolled)

"""Offered slots in the ledger: what drafts proposed, so that planning in any later cycle or
process sees them (PLAYBOOK §2: never the same slot to many people at once)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from followup.ledger import codec, schema
from followup.ledger.rows import WriteState
from followup.ledger.transactions import Transactions
from followup.model import Interval

_GONE = [WriteState.DISMISSED.value, WriteState.REMOVED.value, WriteState.FAILED.value]


@dataclass(frozen=True, slots=True)
class Offer:
    """One slot proposed in one draft."""

    draft_key: str
    start: datetime
    end: datetime
    hold_until: datetime | None = None  # the offer lapses then, if the slot has not begun

    @property
    def interval(self) -> Interval:
        return Interval(self.start, self.end)


class OffersMixin(Transactions):
    """The Ledger's offers API (kept apart from the write bookkeeping in store.py)."""

    _clock: Callable[[], datetime]

    def record_offers(
        self, account: str, draft_key: str, slots: Sequence[Interval], hold_until: datetime
    ) -> None:
        """Remember the slots one draft proposes (again recording the same is harmless)."""
        if not slots:
            return
        now = self._clock()
        t = schema.offers
        rows = [
            {
                "account": account,
                "draft_key": draft_key,
                "starts_at": codec.utc(s.start),
                "ends_at": codec.utc(s.end),
                "hold_until": codec.utc(hold_until),
                "created_at": now,
            }
            for s in slots
        ]
        # Inserted if new: a replanned draft (after a crash) records the same offers again.
        insert = (sqlite.insert(t) if self._engine.dialect.name == "sqlite"
                  else postgresql.insert(t))
        with self._begin() as conn:
            conn.execute(insert.on_conflict_do_nothing(
                index_elements=["account", "draft_key", "starts_at"]), rows)

    def live_offers(self, account: str, now: datetime) -> list[Offer]:
        """Offers still held: the slot is not over (one under way may be the booked call),
        the hold has not passed, and the draft is not known to be gone (the user deleted
        it, undo removed it, it failed)."""
        t, w = schema.offers, schema.writes
        gone = select(w.c.key).where(w.c.state.in_(_GONE))
        with self._begin() as conn:
            rows = conn.execute(
                select(t.c.draft_key, t.c.starts_at, t.c.ends_at, t.c.hold_until).where(
                    t.c.account == account,
                    t.c.ends_at > codec.utc(now),
                    t.c.hold_until > codec.utc(now),
                    t.c.draft_key.not_in(gone),
                )
            ).all()
        return [Offer(r.draft_key, r.starts_at, r.ends_at, r.hold_until) for r in rows]

    def offers_of(self, account: str, draft_keys: Sequence[str]) -> dict[str, list[Interval]]:
        """The slots each of these drafts proposed, in time order."""
        t = schema.offers
        found: dict[str, list[Interval]] = {}
        if not draft_keys:
            return found
        with self._begin() as conn:
            rows = conn.execute(
                select(t.c.draft_key, t.c.starts_at, t.c.ends_at)
                .where(t.c.account == account, t.c.draft_key.in_(list(draft_keys)))
                .order_by(t.c.starts_at)
            ).all()
        for r in rows:
            found.setdefault(r.draft_key, []).append(Interval(r.starts_at, r.ends_at))
        return found

    def release_offers(self, account: str, draft_key: str) -> int:
        """Forget one draft's offers (the user deleted the draft). Returns how many."""
        t = schema.offers
        with self._begin() as conn:
            result = conn.execute(
                delete(t).where(t.c.account == account, t.c.draft_key == draft_key)
            )
        return int(result.rowcount or 0)

    def prune_offers(self, account: str, now: datetime) -> int:
        """Drop offers that no longer hold anything (their slot or hold has passed)."""
        t = schema.offers
        with self._begin() as conn:
            result = conn.execute(
                delete(t).where(
                    t.c.account == account,
                    (t.c.ends_at <= codec.utc(now)) | (t.c.hold_until <= codec.utc(now)),
                )
            )
        return int(result.rowcount or 0)

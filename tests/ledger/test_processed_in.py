"""Ledger.processed_in: one query answers `is_processed` for every meeting of a window."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from followup.ledger import Ledger
from followup.model import Meeting

from .conftest import T0

DAY = timedelta(days=1)


def test_processed_in_agrees_with_is_processed(ledger: Ledger) -> None:
    paris = ZoneInfo("Europe/Paris")
    single = Meeting(uid="single", start=T0.astimezone(paris), end=T0 + timedelta(hours=1))
    series = [Meeting(uid="weekly", start=T0 + timedelta(weeks=i),
                      end=T0 + timedelta(weeks=i, hours=1),
                      recurrence_id=T0 + timedelta(weeks=i), series_start=T0)
              for i in range(3)]
    # An occurrence moved two days later keeps its original start as its identity.
    moved = Meeting(uid="weekly", start=T0 + timedelta(weeks=3, days=2),
                    end=T0 + timedelta(weeks=3, days=2, hours=1),
                    recurrence_id=T0 + timedelta(weeks=3), series_start=T0)
    everything = [single, *series, moved]
    for m in (single, series[1], moved):
        ledger.mark_processed("a", m)
    ledger.mark_processed("b", series[0])  # another account's

    done = ledger.processed_in("a", T0 - DAY, T0 + 5 * DAY * 7)
    assert done == {("single", T0), ("weekly", T0 + timedelta(weeks=1)),
                    ("weekly", T0 + timedelta(weeks=3))}
    for m in everything:
        assert ((m.uid, m.occurrence) in done) == ledger.is_processed("a", m)

    # The bounds hold what they name, both ends included, and nothing else.
    assert ledger.processed_in("a", T0, T0) == {("single", T0)}
    assert ledger.processed_in("a", T0 + DAY, T0 + timedelta(weeks=1) - DAY) == set()
    assert ledger.processed_in("c", T0 - DAY, T0 + 100 * DAY) == set()

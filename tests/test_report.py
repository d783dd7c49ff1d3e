"""The cycle's printed summary reads as English at every count."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from followup.engine.cycle import CycleReport
from followup.model import ContactPayload, WriteIntent, WriteKind
from followup.report import print_cycle

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _printed(report: CycleReport) -> list[str]:
    out = io.StringIO()
    print_cycle(report, tz=ZoneInfo("UTC"), out=out)
    return out.getvalue().splitlines()


def test_an_idle_cycle_says_nothing_new_and_nobody_skipped() -> None:
    lines = _printed(CycleReport(account="a"))
    assert lines[:3] == ["Wrote for 0 people (0 writes):", "  nothing new", "Skipped: nobody"]


def test_one_person_one_write_is_singular() -> None:
    contact = ContactPayload(email="jane@example.org", display_name="Jane Doe", given_name="Jane",
                             family_name="Doe", organization="", note="met")
    report = CycleReport(account="a", intents=[
        WriteIntent("k1", WriteKind.CONTACT, contact, T0, "jane@example.org")])
    lines = _printed(report)
    assert lines[0] == "Wrote for 1 person (1 write):"
    assert lines[1] == "  jane@example.org"
    assert "Skipped: nobody" in lines

"""Human-readable account of a cycle: what was written for whom, and whom it skipped and why.

Used by `followup demo`, `followup plan` and `followup run --once`. Prints summaries only
(names, subjects, times): never a message body.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from followup.engine.cycle import CycleReport
from followup.ledger import Ledger
from followup.model import (
    BlockPayload,
    ContactPayload,
    DraftPayload,
    Meeting,
    Skip,
    WriteIntent,
    WriteKind,
)
from followup.terminal import printable

_KIND_ORDER = {WriteKind.CONTACT: 0, WriteKind.DRAFT: 1, WriteKind.BLOCK: 2}


def _line(text: str = "", *, file: TextIO) -> None:
    """One line of the report; titles and names from invitations are shown, never obeyed.
    A note's line breaks become spaces: one entry stays one line."""
    print(printable(" ".join(text.splitlines())), file=file)


def when(dt: datetime, tz: ZoneInfo) -> str:
    """'Tue 24 Nov 14:00' in the user's zone."""
    return dt.astimezone(tz).strftime("%a %d %b %H:%M")


def _describe(intent: WriteIntent, tz: ZoneInfo) -> str:
    p = intent.payload
    if isinstance(p, ContactPayload):
        who = p.display_name or p.email
        org = f", {p.organization}" if p.organization else ""
        return f"contact  {who}{org}: {p.note}"
    if isinstance(p, DraftPayload):
        return f"draft    {p.subject!r}"
    assert isinstance(p, BlockPayload)
    flag = "  (no free slot before the deadline: overlaps)" if p.conflict else ""
    end = p.end.astimezone(tz).strftime("%H:%M")
    return f"block    {when(p.start, tz)}-{end} {p.summary!r}{flag}"


def _outcome(ledger: Ledger | None, key: str) -> str:
    if ledger is None:
        return "would write"
    row = ledger.write(key)
    if row is None:
        return "?"
    if row.outcome and row.state.value == "done":
        return row.outcome
    return row.state.value


def print_cycle(
    report: CycleReport, *, tz: ZoneInfo, out: TextIO, ledger: Ledger | None = None
) -> None:
    """The intents of this cycle grouped by person, then the skips grouped by meeting.

    With a ledger, each line also says what became of the write (created, annotated, ...).
    """
    by_person: dict[str, list[WriteIntent]] = defaultdict(list)
    for intent in report.intents:
        by_person[intent.person or "(your calendar)"].append(intent)
    verb = "Would write" if report.dry_run else "Wrote"
    people = "person" if len(by_person) == 1 else "people"
    writes = "write" if len(report.intents) == 1 else "writes"
    _line(f"{verb} for {len(by_person)} {people} ({len(report.intents)} {writes}):", file=out)
    if not by_person:
        _line("  nothing new", file=out)
    for person, intents in by_person.items():
        _line(f"  {person}", file=out)
        for intent in sorted(intents, key=lambda i: _KIND_ORDER[i.kind]):
            _line(f"    {_describe(intent, tz):<90} [{_outcome(ledger, intent.key)}]", file=out)

    by_meeting: dict[tuple[str, datetime], list[Skip]] = defaultdict(list)
    meetings: dict[tuple[str, datetime], Meeting] = {}
    # The user is on every invitation: one line says so instead of one per meeting.
    shown = [(m, s) for m, s in report.skips if s.code != "self"]
    yourself = len(report.skips) - len(shown)
    for meeting, skip in shown:
        ref = (meeting.uid, meeting.occurrence)
        by_meeting[ref].append(skip)
        meetings[ref] = meeting
    if not shown and not yourself:
        _line("Skipped: nobody", file=out)
    else:
        _line(f"Skipped ({len(shown)}):", file=out)
    if yourself:
        _line(f"  (you, in each of {yourself} meetings: never your own addresses)", file=out)
    for ref, skips in sorted(by_meeting.items(), key=lambda kv: meetings[kv[0]].start):
        m = meetings[ref]
        _line(f"  {m.title or '(no title)'} ({when(m.start, tz)})", file=out)
        for s in skips:
            who = s.email or "whole meeting"
            _line(f"    {who}: {s.reason} [{s.code}]", file=out)
    for error in report.errors:
        _line(f"  ! {error}", file=out)
    _print_cadence(report, tz, out)


def _print_cadence(report: CycleReport, tz: ZoneInfo, out: TextIO) -> None:
    """Who is out of the usual cadence and why: ended, paused, talking, just enrolled."""
    shown = [p for p in report.people if p.status != "active" or p.reason]
    if not shown:
        return
    _line(f"Cadence ({len(shown)} of {len(report.people)} people):", file=out)
    for p in shown:
        _line(f"  {p.email}: {p.status}: {' '.join(p.reason.split())}", file=out)

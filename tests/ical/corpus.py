"""Decisions on the real-world corpus (tests/data/realworld): one word per event.

Run as a script to print the decisions of every file as TOML (to review and paste into
expected.toml) and the summary table of tests/data/realworld/README.md:

    .venv/bin/python -m tests.ical.corpus [--toml]

A decision is "meeting", "unreadable", "outside_window", or the code of the skip that keeps
an event from being a meeting: one of the parser's (itip_answer, too_frequent,
too_many_occurrences) or a meeting-level one of triage (cancelled, all_day, large,
not_attending...). Triage runs as the calendar's owner would see it: the user is the
organiser when there is one (these files come from other people's test suites, so nobody in
them is "us"); `not_attending` then marks events with attendees but no organiser.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from followup.config import TriageConfig, UserConfig
from followup.core.triage import triage
from followup.ical import ParsedCalendar, parse_calendar, parse_invitation_mail
from followup.ical.parse import UNREADABLE
from followup.model import Interval, Meeting

ROOT = Path(__file__).resolve().parents[1] / "data" / "realworld"
EXPECTED = ROOT / "expected.toml"
WINDOW = Interval(datetime(1990, 1, 1, tzinfo=UTC), datetime(2040, 1, 1, tzinfo=UTC))
ZONE = ZoneInfo("Europe/Berlin")
USER = UserConfig(name="Corpus Reader", addresses=["reader@corpus-reader.example.com"])
RULES = TriageConfig()
OUTSIDE = "outside_window"


def corpus_files() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.ics"))


def name_of(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def parse_file(path: Path) -> ParsedCalendar:
    return parse_calendar(path.read_bytes(), source=path.name, window=WINDOW, default_tz=ZONE)


def meeting_decision(meeting: Meeting) -> str:
    own = [meeting.organizer.email] if meeting.organizer is not None else []
    result = triage(meeting, USER, RULES, self_addresses=own, known_series_members=None)
    codes = [s.code for s in result.skips if s.email == ""]
    return codes[0] if codes else "meeting"


def decisions(parsed: ParsedCalendar) -> dict[str, str]:
    """Event key -> decision. Unreadable events are keyed "event N" (their UID may be
    missing or shared with a readable copy), the others by UID, judged by their first
    occurrence in the window."""
    out: dict[str, str] = {}
    first: dict[str, Meeting] = {}
    for m in parsed.meetings:
        if m.uid not in first or m.start < first[m.uid].start:
            first[m.uid] = m
    for uid in sorted(parsed.uids):
        out[uid] = meeting_decision(first[uid]) if uid in first else OUTSIDE
    for skip in parsed.skipped:
        if skip.code == UNREADABLE:
            out[f"event {skip.event}"] = UNREADABLE
        elif skip.uid is not None:
            out[skip.uid] = skip.code
        else:
            out[f"event {skip.event}"] = skip.code
    # A UID whose only VEVENTs were unreadable has no decision of its own.
    unreadable_uids = {s.uid for s in parsed.skipped if s.code == UNREADABLE}
    for uid in unreadable_uids:
        if uid in out and out[uid] == OUTSIDE and uid not in first:
            del out[uid]
    return out


def as_mail(path: Path, organizer: str | None) -> bytes:
    """The file as an invitation mail from its organiser, as Gmail, Graph and Maildir pass
    it to parse_invitation_mail."""
    msg = EmailMessage()
    msg["From"] = organizer or "someone@corpus-sender.example.com"
    msg["To"] = "reader@corpus-reader.example.com"
    msg["Subject"] = "Invitation"
    msg.set_content("See the attached invitation.")
    msg.add_attachment(path.read_bytes(), maintype="text", subtype="calendar",
                       filename=path.name)
    return msg.as_bytes()


def parse_as_mail(path: Path, parsed: ParsedCalendar) -> ParsedCalendar:
    organizer = next((m.organizer.email for m in parsed.meetings if m.organizer), None)
    return parse_invitation_mail(as_mail(path, organizer), source=f"mail:{path.name}",
                                 window=WINDOW, default_tz=ZONE)


def _toml_key(key: str) -> str:
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def main(argv: list[str]) -> None:
    began = time.perf_counter()
    table: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    repairs: Counter[str] = Counter()
    lines: list[str] = []
    files = corpus_files()
    per_project: Counter[str] = Counter(p.relative_to(ROOT).parts[0] for p in files)
    for path in files:
        parsed = parse_file(path)
        found = decisions(parsed)
        table.update(found.values())
        for skip in parsed.skipped:
            reasons[skip.reason.split(": ", 1)[1]] += 1
        for note in parsed.notes:
            repairs[re.sub(r"line \d+", "line N", note.split(": ", 1)[1])] += 1
        lines.append(f"[{_toml_key(name_of(path))}]")
        lines.extend(f"{_toml_key(k)} = \"{v}\"" for k, v in sorted(found.items()))
        lines.append("")
    elapsed = time.perf_counter() - began
    if "--toml" in argv:
        print("\n".join(lines))
        return
    print(f"{len(files)} files ({', '.join(f'{k} {v}' for k, v in sorted(per_project.items()))}),"
          f" {sum(table.values())} events, parsed in {elapsed:.2f} s\n")
    print("| decision | events |\n|---|---|")
    for code, n in table.most_common():
        print(f"| {code} | {n} |")
    print("\n| skip reason (parser) | events |\n|---|---|")
    for reason, n in reasons.most_common():
        print(f"| {reason} | {n} |")
    print("\n| repaired (parser notes) | times |\n|---|---|")
    for repair, n in repairs.most_common():
        print(f"| {repair} | {n} |")


if __name__ == "__main__":
    main(sys.argv[1:])

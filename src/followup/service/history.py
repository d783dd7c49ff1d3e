"""`followup log`: what followup did, per meeting and person, read from the ledger.

Each write is one entry (created, found already there, annotated, dismissed because the user
deleted it, failed and why, retrying, removed by undo); each skip stored when a meeting was
processed is one entry with its reason. Writes still waiting with no error are not history
yet: `followup status` lists them as upcoming.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time
from typing import TextIO
from zoneinfo import ZoneInfo

from followup.config import Config
from followup.ledger import Ledger, WriteRow, WriteState
from followup.model import BlockPayload, DraftPayload
from followup.service.table import render_table
from followup.terminal import printable

TITLE_CHARS = 40
WHY_CHARS = 100
# Skips that say nothing the user needs: they are on every meeting they attend.
QUIET_SKIPS = frozenset({"self"})


@dataclass(frozen=True)
class LogEntry:
    at: datetime
    account: str
    meeting_uid: str
    occurrence: datetime | None
    title: str
    person: str  # "" for a whole meeting or a weekly block
    kind: str  # contact, draft, block; "meeting" for a skip
    what: str  # created, existed, annotated, dismissed, failed, retrying, removed, skipped...
    why: str  # the skip's reason or the last error; "" when there is nothing to say


def parse_since(text: str) -> date | datetime:
    """--since: a date (YYYY-MM-DD, from its start in the user's zone) or an ISO time."""
    try:
        return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--since {text!r}: expected a date like 2026-11-02, or a time like "
                         "2026-11-02T09:00") from None


def since_instant(since: date | datetime | None, tz: ZoneInfo) -> datetime | None:
    if since is None:
        return None
    if isinstance(since, datetime):
        return since if since.tzinfo else since.replace(tzinfo=tz)
    return datetime.combine(since, time(0), tzinfo=tz)


def _what(row: WriteRow) -> tuple[str, str] | None:
    """(what, why) for a write, or None while it is simply waiting."""
    if row.state is WriteState.DONE:
        return row.outcome or "done", ""
    if row.state is WriteState.DISMISSED:
        return "dismissed", "deleted by you after it was written: never written again"
    if row.state is WriteState.FAILED:
        return "failed", row.last_error or ""
    if row.state is WriteState.REMOVED:
        return "removed", f"by `followup undo` ({row.outcome})" if row.outcome else "by undo"
    if row.last_error:
        return "retrying", row.last_error
    return None


def _payload_title(row: WriteRow) -> str:
    if isinstance(row.payload, DraftPayload):
        return row.payload.subject
    if isinstance(row.payload, BlockPayload):
        return row.payload.summary
    return ""


def entries(
    ledger: Ledger,
    accounts: Iterable[str],
    *,
    since: datetime | None = None,
    person: str | None = None,
) -> list[LogEntry]:
    """The accounts' history, oldest first, optionally from `since` and for one person."""
    wanted = person.strip().lower() if person else None
    found: list[LogEntry] = []
    for account in accounts:
        titles = ledger.meeting_titles(account)
        skips = ledger.skips(account)
        for s in skips:
            titles.setdefault((s.meeting_uid, s.occurrence), s.title)
        for row in ledger.writes(account):
            what = _what(row)
            if what is None:
                continue
            at = row.done_at if row.state is WriteState.DONE and row.done_at else row.updated_at
            title = titles.get((row.meeting_uid, row.occurrence)) if row.occurrence else None
            found.append(LogEntry(at, account, row.meeting_uid, row.occurrence,
                                  title or _payload_title(row), row.person, row.kind.value,
                                  *what))
        found += [
            LogEntry(s.at, account, s.meeting_uid, s.occurrence, s.title, s.person, "meeting",
                     "skipped", f"{s.reason} ({s.code})")
            for s in skips
            if s.code not in QUIET_SKIPS
        ]
    if since is not None:
        found = [e for e in found if e.at >= since]
    if wanted is not None:
        found = [e for e in found if e.person.lower() == wanted]
    found.sort(key=lambda e: (e.at, e.account, e.meeting_uid, e.person, e.kind))
    return found


def _cut(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def render_text(found: Sequence[LogEntry], tz: ZoneInfo, out: TextIO, *,
                show_account: bool) -> None:
    if not found:
        print("Nothing in the log for this selection.", file=out)
        return
    header = ["WHEN", *(["ACCOUNT"] if show_account else []), "MEETING", "PERSON", "WHAT", "WHY"]
    rows = [
        [
            e.at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
            *([e.account] if show_account else []),
            _cut(e.title, TITLE_CHARS) or "-",
            e.person or "-",
            e.what if e.kind == "meeting" else f"{e.kind} {e.what}",
            _cut(e.why, WHY_CHARS),
        ]
        for e in found
    ]
    render_table(header, rows, out)  # escapes control characters in every cell


def render_json(found: Sequence[LogEntry], out: TextIO) -> None:
    """One JSON object per line (JSON Lines); times in ISO 8601, UTC."""
    for e in found:
        record = asdict(e)
        record["at"] = e.at.astimezone(UTC).isoformat()
        record["occurrence"] = e.occurrence.astimezone(UTC).isoformat() if e.occurrence else None
        out.write(json.dumps(record, ensure_ascii=False) + "\n")


def show_log(
    config: Config,
    *,
    since: str | None,
    person: str | None,
    account: str | None,
    as_json: bool,
    out: TextIO,
    err: TextIO,
) -> int:
    """`followup log`: 0, or 2 for a bad option (unknown account, unreadable --since)."""
    from followup.service.status import ledger_exists

    names = [a.name for a in config.accounts if account is None or a.name == account]
    if not names:
        print(f"followup: no account named {printable(account)!r} in the config", file=err)
        return 2
    try:
        start = since_instant(parse_since(since) if since else None, config.user.tz)
    except ValueError as e:
        print(f"followup: {e}", file=err)
        return 2
    if not ledger_exists(config):
        print("Nothing in the log yet: followup has not run (followup run --once).", file=out)
        return 0
    with Ledger.open(config.ledger_url()) as ledger:
        found = entries(ledger, names, since=start, person=person)
    if as_json:
        render_json(found, out)
    else:
        render_text(found, config.user.tz, out, show_account=len(names) > 1)
    return 0

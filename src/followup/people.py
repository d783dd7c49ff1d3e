"""`followup people [list | show EMAIL | pause EMAIL | resume EMAIL | forget EMAIL]`: the
cadence per person (PLAYBOOK §3–4), and the user's say over it.

- list: everyone in the cadence, their state, touches, when the next one is due, and why;
- show: one person in full (the notes are the user's own, shown only here and on blocks);
- pause / resume: no touches until resumed; a resumed sequence starts a cadence from now;
- forget: remove what followup stored about them (the contact, drafts and events already in
  the user's mailbox and calendar stay: they are the user's).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from followup.config import Config
from followup.core.planner import nurture_due
from followup.core.state import PersonState
from followup.ledger import Ledger
from followup.service.table import render_table
from followup.terminal import printable

ACTIONS = ("list", "show", "pause", "resume", "forget")


def _when(t: datetime | None, tz: ZoneInfo) -> str:
    return t.astimezone(tz).strftime("%Y-%m-%d") if t else "-"


def _line(text: str, out: TextIO) -> None:
    print(printable(text), file=out)


def next_touch(state: PersonState, config: Config) -> str:
    if state.status == "ended":
        return "never"
    if state.status == "paused":
        return "paused"
    if state.open_touch:
        return "draft open"
    due = nurture_due(state, config.schedule)
    return _when(due, config.user.tz)


def people_command(
    config: Config,
    *,
    action: str,
    email: str | None,
    account: str | None,
    out: TextIO,
    now: datetime | None = None,
) -> int:
    if action not in ACTIONS:
        print(f"followup: people: unknown action {action!r} (one of {', '.join(ACTIONS)})",
              file=sys.stderr)
        return 2
    if action != "list" and not email:
        print(f"followup: people {action} needs an email address", file=sys.stderr)
        return 2
    names = [a.name for a in config.accounts if account is None or a.name == account]
    if not names:
        print(f"followup: no account named {account!r} in the config", file=sys.stderr)
        return 2
    now = now or datetime.now(UTC)
    tz = config.user.tz
    wanted = (email or "").strip().lower()
    with Ledger.open(config.ledger_url()) as ledger:
        if action == "list":
            rows = []
            for name in names:
                for st in ledger.people(name):
                    rows.append([st.email, name, st.status, str(st.touches),
                                 str(st.unanswered), next_touch(st, config),
                                 " ".join(st.reason.split())[:80]])
            if not rows:
                _line("Nobody in the cadence yet.", out)
                return 0
            render_table(["EMAIL", "ACCOUNT", "STATE", "TOUCHES", "UNANSWERED", "NEXT",
                          "WHY"], [[printable(c) for c in r] for r in rows], out)
            return 0
        found = [(name, p) for name in names if (p := ledger.person(name, wanted)) is not None]
        if not found:
            print(f"followup: nobody with the address {printable(wanted)} in the cadence",
                  file=sys.stderr)
            return 1
        for name, state in found:
            with ledger.account_lock(name):  # the daemon must not save them meanwhile
                _act(ledger, config, name, state, action, now, tz, out)
    return 0


def _act(
    ledger: Ledger, config: Config, account: str, state: PersonState, action: str,
    now: datetime, tz: ZoneInfo, out: TextIO,
) -> None:
    day = _when(now, tz)
    if action == "show":
        _show(ledger, config, account, state, tz, out)
    elif action == "pause":
        ledger.save_person(account, replace(state, status="paused",
                                            reason=f"Paused by you on {day}."))
        _line(f"{account}: {state.email} paused: no touches until `followup people resume`.",
              out)
    elif action == "resume":
        # A cadence from now: the first touch after resuming comes at the usual interval.
        ledger.save_person(account, replace(
            state, status="active", open_touch=False, unanswered=0, anchor=now,
            reason=f"Resumed by you on {day}."))
        resumed = ledger.person(account, state.email)
        assert resumed is not None
        _line(f"{account}: {state.email} resumed; next touch due "
              f"{next_touch(resumed, config)}.", out)
    else:
        gone = ledger.forget_person(account, state.email)
        _line(f"{account}: forgot {state.email} ({gone.writes} writes, {gone.skips} skips, "
              f"{gone.offers} offered slots). Whatever is in your mailbox and calendar stays.",
              out)


def _show(
    ledger: Ledger, config: Config, account: str, s: PersonState, tz: ZoneInfo, out: TextIO
) -> None:
    lines = [
        f"{s.name or s.email} <{s.email}>  ({account})",
        f"  state:      {s.status}" + (f": {s.reason}" if s.reason else ""),
        f"  first met:  {_when(s.first_met, tz)}; last met {_when(s.last_met, tz)} "
        f"({' '.join(s.last_meeting_title.split())[:120]})",
        f"  touches:    {s.touches} drafted, {s.unanswered} unanswered in a row",
        f"  last contact: {_when(s.anchor, tz)}; next touch: {next_touch(s, config)}",
    ]
    if s.asked_at is not None or s.channel == "call":
        how = "a call" if s.channel == "call" else "mail"
        lines.append(f"  they asked: {how}" + (f" around {_when(s.asked_at, tz)}"
                                                if s.asked_at else ""))
    if s.given:
        lines.append(f"  given:      {', '.join(s.given)}")
    for line in lines:
        _line(line, out)
    writes = [r for r in ledger.writes(account) if r.person == s.email]
    if writes:
        _line("  writes:", out)
        for r in sorted(writes, key=lambda r: r.due):
            _line(f"    {_when(r.due, tz)}  touch {r.touch} {r.kind.value}: {r.state.value}", out)
    if s.notes.strip():
        _line("  your notes (private):", out)
        for note in s.notes.strip().splitlines()[:40]:
            _line(f"    {note}", out)

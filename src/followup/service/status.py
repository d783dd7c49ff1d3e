"""`followup status`: accounts, credentials, last sync, pending and upcoming touches, failed
writes (failures, never "upcoming"), paused writes, errors.

Read-only: it takes no lock (the daemon may be running) and never creates a ledger that is
not there yet.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from followup.config import AccountConfig, Config, ConfigError, load_config
from followup.protocols import CredentialInfo
from followup.service.table import render_table
from followup.terminal import printable

UPCOMING_SHOWN = 10
ERRORS_SHOWN = 10
FAILURES_SHOWN = 10


@dataclass
class AccountView:
    name: str
    kind: str
    credentials: CredentialInfo
    needs_reconnect: bool = False
    last_sync: datetime | None = None
    last_error: str | None = None
    pending: int = 0  # due now, waiting for the next cycle
    upcoming: int = 0  # due later
    next_due: datetime | None = None
    failed: int = 0  # given up: `followup retry --failed` brings them back
    paused_until: datetime | None = None  # writes paused: the environment failed
    paused_error: str | None = None


@dataclass
class StatusView:
    config: Path
    ledger: str  # "ok", or why it could not be read
    accounts: list[AccountView] = field(default_factory=list)
    touches: list[dict[str, Any]] = field(default_factory=list)  # upcoming, soonest first
    errors: list[dict[str, Any]] = field(default_factory=list)  # most recent first
    failures: list[dict[str, Any]] = field(default_factory=list)  # failed writes, latest first
    # People whose sequence ended or is paused, and why (`followup people` changes it).
    sequences: list[dict[str, Any]] = field(default_factory=list)


def credentials_of(acfg: AccountConfig, config: Config) -> CredentialInfo:
    from followup.providers import credential_info

    try:
        return credential_info(acfg, config)
    except Exception as e:  # a broken token file is something to show, not a crash
        return CredentialInfo(state="error", message=f"{type(e).__name__}: {e}")


def ledger_exists(config: Config) -> bool:
    """False for a SQLite ledger whose file is not there yet (the daemon never ran)."""
    url = config.ledger_url()
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).exists()
    return True


def collect(config_path: Path, config: Config, now: datetime) -> StatusView:
    from followup.ledger import Ledger, WriteState

    accounts = {
        a.name: AccountView(a.name, a.kind, credentials_of(a, config)) for a in config.accounts
    }
    view = StatusView(config_path, "ok", list(accounts.values()))
    if not ledger_exists(config):
        view.ledger = "no ledger yet: the daemon has not run (followup run --once)"
        return view
    try:
        ledger = Ledger.open(config.ledger_url())
    except Exception as e:
        view.ledger = f"cannot open the ledger: {type(e).__name__}: {e}"
        return view
    with ledger:
        for a in view.accounts:
            st = ledger.account_status(a.name)
            if st is not None:
                a.needs_reconnect, a.last_sync, a.last_error = (
                    st.needs_reconnect, st.last_sync, st.last_error)
                if st.last_error:
                    view.errors.append({"account": a.name, "at": st.updated_at,
                                        "what": "account", "error": st.last_error})
                if st.backoff_until is not None and st.backoff_until > now:
                    a.paused_until, a.paused_error = st.backoff_until, st.backoff_error
            view.sequences.extend(
                {"account": a.name, "person": p.email, "state": p.status, "why": p.reason}
                for p in ledger.people(a.name) if p.status in ("ended", "paused"))
            rows = ledger.writes(a.name)
            for r in rows:
                if r.state is WriteState.FAILED:
                    a.failed += 1
                    view.failures.append({"account": a.name, "at": r.updated_at,
                                          "kind": r.kind.value, "person": r.person,
                                          "attempts": r.attempts, "error": r.last_error or ""})
                if r.state is WriteState.PENDING:
                    if r.due <= now:
                        a.pending += 1
                    else:
                        a.upcoming += 1
                    a.next_due = r.due if a.next_due is None else min(a.next_due, r.due)
                    view.touches.append({"account": a.name, "due": r.due, "kind": r.kind.value,
                                         "person": r.person, "attempts": r.attempts})
                if r.last_error and r.state is WriteState.PENDING:  # failed ones: above
                    view.errors.append({"account": a.name, "at": r.updated_at,
                                        "what": f"{r.kind.value} for {r.person or 'weekly'}",
                                        "error": r.last_error})
    view.touches.sort(key=lambda t: t["due"])
    view.errors.sort(key=lambda e: e["at"], reverse=True)
    view.failures.sort(key=lambda f: f["at"], reverse=True)
    return view


def _when(t: datetime | None, tz: ZoneInfo) -> str:
    return t.astimezone(tz).strftime("%Y-%m-%d %H:%M") if t else "-"


def _token(c: CredentialInfo, tz: ZoneInfo) -> str:
    if c.state == "none":
        return "not needed"
    until = c.refresh_expires_at or None
    return c.state.replace("_", " ") + (f" (grant ends {_when(until, tz)})" if until else "")


def render_text(view: StatusView, tz: ZoneInfo, out: TextIO) -> None:
    print(f"config: {view.config}", file=out)
    print(f"ledger: {view.ledger}", file=out)
    print(file=out)
    rows = [
        [a.name, a.kind, _token(a.credentials, tz), _when(a.credentials.expires_at, tz),
         "needs reconnect" if a.needs_reconnect else _when(a.last_sync, tz),
         str(a.pending), str(a.upcoming), _when(a.next_due, tz), str(a.failed)]
        for a in view.accounts
    ]
    header = ["ACCOUNT", "KIND", "TOKEN", "ACCESS EXPIRES", "LAST SYNC", "PENDING", "UPCOMING",
              "NEXT DUE", "FAILED"]
    render_table(header, rows, out)
    for a in view.accounts:
        if a.credentials.message and a.credentials.state not in ("ok", "none"):
            print(f"  {a.name}: {a.credentials.message}", file=out)
        if a.paused_until is not None:
            print(f"  {a.name}: writes paused until {_when(a.paused_until, tz)}: "
                  f"{_one_line(a.paused_error or '')}", file=out)
    if view.failures:
        print(f"\nFailed writes ({len(view.failures)}; `followup retry --failed` tries them "
              "again):", file=out)
        for f in view.failures[:FAILURES_SHOWN]:
            print(f"  {_when(f['at'], tz)}  {f['account']}: {f['kind']} for "
                  f"{f['person'] or 'weekly'}: {_one_line(f['error'])}", file=out)
    if view.touches:
        print(f"\nUpcoming touches ({len(view.touches)}):", file=out)
        render_table(
            ["DUE", "ACCOUNT", "KIND", "PERSON"],
            [[_when(t["due"], tz), t["account"], t["kind"], t["person"] or "(weekly block)"]
             for t in view.touches[:UPCOMING_SHOWN]],
            out,
        )
    if view.sequences:
        print(f"\nStopped or paused ({len(view.sequences)}; `followup people resume EMAIL` "
              "starts again):", file=out)
        for q in view.sequences[:UPCOMING_SHOWN]:
            print(f"  {q['account']}: {printable(q['person'])} {q['state']}: "
                  f"{_one_line(q['why'])}", file=out)
    if view.errors:
        print("\nRecent errors:", file=out)
        for e in view.errors[:ERRORS_SHOWN]:
            error = _one_line(str(e["error"]))
            print(f"  {_when(e['at'], tz)}  {e['account']}: {e['what']}: {error}", file=out)


def _one_line(text: str) -> str:
    """One line, control characters (terminal escapes) shown escaped, never interpreted."""
    return printable(" ".join(text.split()))


def status_json(view: StatusView) -> dict[str, Any]:
    def iso(t: datetime | None) -> str | None:
        return t.isoformat() if t else None

    return {
        "config": str(view.config),
        "ledger": view.ledger,
        "accounts": [
            {
                "name": a.name, "kind": a.kind,
                "credentials": {
                    "state": a.credentials.state, "message": a.credentials.message,
                    "path": a.credentials.path, "expires_at": iso(a.credentials.expires_at),
                    "refresh_expires_at": iso(a.credentials.refresh_expires_at),
                    "scopes": list(a.credentials.scopes),
                },
                "needs_reconnect": a.needs_reconnect, "last_sync": iso(a.last_sync),
                "last_error": a.last_error, "pending": a.pending, "upcoming": a.upcoming,
                "next_due": iso(a.next_due), "failed": a.failed,
                "paused_until": iso(a.paused_until), "paused_error": a.paused_error,
            }
            for a in view.accounts
        ],
        "touches": [{**t, "due": iso(t["due"])} for t in view.touches],
        "errors": [{**e, "at": iso(e["at"])} for e in view.errors],
        "failures": [{**f, "at": iso(f["at"])} for f in view.failures],
        "sequences": view.sequences,
    }


def show_status(config_path: Path, *, as_json: bool, out: TextIO) -> int:
    """`followup status [--json]`: 0, or 2 when the config cannot be used."""
    try:
        config = load_config(config_path)
    except ConfigError as e:
        from followup.cli import print_config_error

        print_config_error(e, sys.stderr)
        return 2
    view = collect(config_path, config, datetime.now(UTC))
    if as_json:
        json.dump(status_json(view), out, indent=2)
        out.write("\n")
    else:
        from followup.terminal import InertWriter

        render_text(view, config.user.tz, InertWriter(out))  # type: ignore[arg-type]
    return 0


def write_problems(config: Config) -> list[tuple[str, str]]:
    """(what, fix) for `followup doctor`: failed writes, and accounts whose writes are paused
    because the environment failed. Read only: never creates or migrates a ledger; [] when
    there is no ledger or it cannot be read (doctor's ledger check says why)."""
    from sqlalchemy import func, select

    from followup.ledger import WriteState, schema
    from followup.ledger.connect import make_engine

    if not ledger_exists(config):
        return []
    w, a = schema.writes, schema.accounts
    failed = (
        select(w.c.account, func.count(), func.max(w.c.updated_at))
        .where(w.c.state == WriteState.FAILED.value)
        .group_by(w.c.account)
    )
    problems: list[tuple[str, str]] = []
    try:
        engine = make_engine(config.ledger_url())
    except Exception:
        return []
    try:
        with engine.connect() as conn:
            for account, count, _ in conn.execute(failed):
                last = conn.scalar(
                    select(w.c.last_error)
                    .where(w.c.account == account, w.c.state == WriteState.FAILED.value)
                    .order_by(w.c.updated_at.desc())
                    .limit(1)
                )
                problems.append((
                    f"account {account}: {count} write{'s' if count != 1 else ''} failed "
                    f"for good; last error: {_one_line(last or '')[:300]}",
                    "fix the cause, then `followup retry --failed`"
                    f"{'' if len(config.accounts) == 1 else f' --account {account}'}",
                ))
            if "backoff_until" in {c["name"] for c in _columns(conn, "accounts")}:
                now = datetime.now(UTC)
                paused = select(a.c.account, a.c.backoff_until, a.c.backoff_error).where(
                    a.c.backoff_until > now)
                for account, until, error in conn.execute(paused):
                    problems.append((
                        f"account {account}: writes paused until {until:%Y-%m-%d %H:%M}Z: "
                        f"{_one_line(error or '')[:300]}",
                        "free space or fix the folder's permissions or the network; "
                        "`followup retry` tries again now",
                    ))
    except Exception:  # an unreadable ledger is check_ledger's finding
        return problems
    finally:
        engine.dispose()
    return problems


def _columns(conn: Any, table: str) -> list[dict[str, Any]]:
    from sqlalchemy import inspect

    return list(inspect(conn).get_columns(table))

"""After a clean round: write the snapshot that lets an idle `run --once`, `status` and
`plan` answer without the engine (service.snapshot says when it holds).

Only for what a stat can vouch for: every account local (a cloud account's changes are only
known by asking its server, and its token's state changes with time) and a SQLite ledger
(a PostgreSQL one is written by other machines). `run --once` and `plan` need every calendar
on disk too; `status` does not read calendars.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import structlog

from followup.commands import print_plan_header
from followup.config import Config, LocalAccount
from followup.engine.cycle import CycleReport
from followup.providers.local import watched_paths
from followup.report import print_cycle
from followup.service import snapshot
from followup.service.daemon import report_line
from followup.service.status import collect, render_text, status_json
from followup.terminal import InertWriter

log = structlog.get_logger(__name__)


def clean(report: CycleReport) -> bool:
    """A cycle that left nothing to try again: no error, no failed write or source."""
    failed = any(outcome == "failed" for _, outcome in report.writes)
    return not (report.errors or report.sources_failed or report.stopped or failed
                or report.dry_run)


def remember(config_path: Path, config_digest: str, config: Config,
             reports: Mapping[str, CycleReport], now: datetime) -> None:
    """Write the snapshot of this round, or remove a stale one when it cannot be written.
    `config_digest` is of the file as it was read before `config` was loaded from it (read
    after, an edit in between would vouch for a config this round never used). Never fails
    the round: a snapshot is a shortcut, the full command is always right."""
    state = config.state_path()
    try:
        snap = _snapshot(config_path, config_digest, config, reports, now)
        if snap is None or not snapshot.save(state, snap):
            snapshot.forget(state)
    except Exception:
        log.warning("snapshot.not_written", exc_info=True)
        try:
            snapshot.forget(state)
        except OSError:
            log.warning("snapshot.not_removed", exc_info=True)


def _snapshot(config_path: Path, config_digest: str, config: Config,
              reports: Mapping[str, CycleReport], now: datetime) -> dict[str, object] | None:
    url = config.ledger_url()
    locals_ = [a for a in config.accounts if isinstance(a, LocalAccount)]
    if (not config_digest or not url.startswith("sqlite:///")
            or len(locals_) != len(config.accounts)
            or set(reports) != {a.name for a in config.accounts}
            or not all(clean(r) for r in reports.values())):
        return None
    db = url.removeprefix("sqlite:///")
    sources: list[tuple[str, int]] | None = []
    for acfg in locals_:
        watched = watched_paths(acfg, config)
        if watched is None or sources is None:
            sources = None
            continue
        sources += watched
    dues = [r.next_due.timestamp() for r in reports.values() if r.next_due is not None]
    tz = config.user.tz

    view = collect(config_path, config, now)
    text = io.StringIO()
    render_text(view, tz, InertWriter(text))  # type: ignore[arg-type]
    status_text = text.getvalue().split("\n", 1)[1]  # the config line: as the user names it
    as_json = status_json(view)
    as_json.pop("config")

    plan_text = None
    if sources is not None:
        plan = io.StringIO()
        for account in config.accounts:
            # What a dry cycle reports with nothing changed and nothing due: nothing new, no
            # skips, everyone in the cadence as this round left them.
            print_plan_header(account, plan)
            people = reports[account.name].people
            print_cycle(CycleReport(account.name, dry_run=True, people=people), tz=tz,
                        out=plan)
        plan_text = plan.getvalue()

    return {
        "config": config_digest,
        "valid_until": min([now.timestamp() + snapshot.FULL_CYCLE_EVERY, *dues]),
        "taken_at": now.isoformat(),
        "ledger": [(db, 0), (db + "-wal", 0), (db + "-journal", 0)],
        "sources": sources,
        "run_lines": [report_line(a.name, CycleReport(a.name)) for a in config.accounts]
        if sources is not None else None,
        "status_text": status_text,
        "status_json": as_json,
        "plan_text": plan_text,
    }

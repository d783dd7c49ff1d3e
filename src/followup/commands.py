"""`followup plan` and `followup undo`: the ledger and the accounts, driven once."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import structlog

from followup.config import Config
from followup.core.compose import Composer
from followup.engine.cycle import plan
from followup.engine.undo import undo
from followup.errors import AuthError, FollowupError
from followup.ledger import Ledger
from followup.providers import open_account
from followup.report import print_cycle

log = structlog.get_logger(__name__)


def plan_command(config: Config, *, out: TextIO) -> int:
    """Print, per account, what the next cycle would write and whom it would skip, and why.

    Nothing is written anywhere; the ledger only learns the meetings the sources reported.
    """
    ledger = Ledger.open(config.ledger_url())
    composer = Composer(config.user, templates_dir(config))
    now = datetime.now(UTC)
    failed = 0
    for account_cfg in config.accounts:
        print(f"== {account_cfg.name} ({account_cfg.kind})", file=out)
        try:
            account = open_account(account_cfg, config)
            report = plan(config, ledger, account, composer, now)
        except AuthError as e:
            print(f"  needs reconnecting: {e}", file=out)
            failed += 1
            continue
        except FollowupError as e:
            print(f"  failed: {e}", file=out)
            failed += 1
            continue
        print_cycle(report, tz=config.user.tz, out=out)
    ledger.close()
    return 1 if failed else 0


def undo_command(config: Config, *, account: str | None, yes: bool, out: TextIO) -> int:
    """Remove everything followup created (by key); the user's own edits are kept."""
    chosen = [a for a in config.accounts if account is None or a.name == account]
    if not chosen:
        print(f"followup: no account named {account!r} in the config", file=sys.stderr)
        return 2
    names = ", ".join(a.name for a in chosen)
    if not yes:
        if not sys.stdin.isatty():
            print("followup: undo needs --yes when not run from a terminal", file=sys.stderr)
            return 2
        question = f"Remove every contact, draft and block followup created in {names}? [y/N] "
        answer = input(question)
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing removed.", file=out)
            return 0
    from followup.service.lock import LockHeldError, StateLock

    lock = StateLock(config.state_path())
    try:
        lock.acquire()  # the daemon must not write while we remove: hold its lock
    except LockHeldError as e:
        print(f"followup: {e}", file=sys.stderr)
        return 3
    ledger = Ledger.open(config.ledger_url())
    failed = 0
    try:
        for account_cfg in chosen:
            try:
                report = undo(ledger, open_account(account_cfg, config))
            except FollowupError as e:
                print(f"{account_cfg.name}: failed: {e}", file=out)
                failed += 1
                continue
            print(
                f"{account_cfg.name}: removed {len(report.removed)}, already gone "
                f"{len(report.gone)}, kept {len(report.kept)} that you edited",
                file=out,
            )
            for error in report.errors:
                print(f"  ! {error}", file=out)
                failed += 1
    finally:
        lock.release()
    ledger.close()
    return 1 if failed else 0


def templates_dir(config: Config) -> Path | None:
    return Path(config.templates_dir) if config.templates_dir else None

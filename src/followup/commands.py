"""`followup plan` and `followup undo`: the ledger and the accounts, driven once."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import structlog

from followup.config import AccountConfig, Config
from followup.core.compose import Composer
from followup.engine.cycle import plan
from followup.engine.undo import undo
from followup.errors import AuthError, FollowupError
from followup.ledger import Ledger
from followup.providers import open_account
from followup.report import print_cycle
from followup.terminal import printable

log = structlog.get_logger(__name__)


def _error(text: str) -> None:
    """An error line: on stderr, so `followup plan > file` keeps the plan alone in the file."""
    print(printable(text), file=sys.stderr)


def plan_command(config: Config, *, out: TextIO) -> int:
    """Print, per account, what the next cycle would write and whom it would skip, and why.

    Nothing is written anywhere; the ledger only learns the meetings the sources reported.
    A ledger that cannot be opened or read is the caller's (cli.main) one-line error.
    """
    ledger = Ledger.open(config.ledger_url())
    composer = Composer(config.user, templates_dir(config))
    now = datetime.now(UTC)
    failed = 0
    for account_cfg in config.accounts:
        print_plan_header(account_cfg, out)
        try:
            account = open_account(account_cfg, config)
            report = plan(config, ledger, account, composer, now)
        except AuthError as e:
            _error(f"followup: {account_cfg.name}: needs reconnecting: {e}")
            failed += 1
            continue
        except FollowupError as e:
            _error(f"followup: {account_cfg.name}: failed: {e}")
            failed += 1
            continue
        print_cycle(report, tz=config.user.tz, out=out)
    ledger.close()
    return 1 if failed else 0


def print_plan_header(account_cfg: AccountConfig, out: TextIO) -> None:
    """The line above each account's part of `followup plan`."""
    print(printable(f"== {account_cfg.name} ({account_cfg.kind})"), file=out)


def undo_command(config: Config, *, account: str | None, yes: bool, out: TextIO) -> int:
    """Remove everything followup created (by key); the user's own edits are kept."""
    chosen = [a for a in config.accounts if account is None or a.name == account]
    if not chosen:
        _error(f"followup: no account named {account!r} in the config")
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
        _error(f"followup: {e}")
        return 3
    ledger = Ledger.open(config.ledger_url())
    failed = 0
    try:
        for account_cfg in chosen:
            try:
                with ledger.account_lock(account_cfg.name):  # a shared PostgreSQL ledger
                    report = undo(ledger, open_account(account_cfg, config))
            except FollowupError as e:
                _error(f"followup: {account_cfg.name}: failed: {e}")
                failed += 1
                continue
            print(printable(
                f"{account_cfg.name}: removed {len(report.removed)}, already gone "
                f"{len(report.gone)}, kept {len(report.kept)} that you edited"),
                file=out,
            )
            for error in report.errors:
                _error(f"followup: {account_cfg.name}: {error}")
                failed += 1
    finally:
        lock.release()
    ledger.close()
    return 1 if failed else 0


def templates_dir(config: Config) -> Path | None:
    return Path(config.templates_dir) if config.templates_dir else None


def retry_command(config: Config, *, account: str | None, failed: bool, out: TextIO) -> int:
    """`followup retry [--failed] [--account A]`: writes waiting for a retry are due now and
    paused accounts resume; with --failed, writes given up are pending again. The next cycle
    (the daemon's next wake, or `followup run --once`) writes them, looking each key up
    first."""
    if account is not None and account not in {a.name for a in config.accounts}:
        _error(f"followup: no account named {account!r} in the config")
        return 2
    with Ledger.open(config.ledger_url()) as ledger:
        changed = ledger.retry(account, failed=failed)
    which = "failed or waiting" if failed else "waiting"
    print(printable(f"{changed} {which} write{'s' if changed != 1 else ''} due again"
                    f"{f' in {account}' if account else ''}; the next cycle writes them "
                    "(followup run --once, or the running daemon's next wake)"), file=out)
    return 0

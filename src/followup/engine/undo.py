"""Take back what followup wrote for an account (`followup undo`).

Newest first, so that a later note on a card we created ("Met again at ...") comes off before
the card itself, and the card is again exactly as we wrote it. What the user edited is KEPT
and reported; a contact we only annotated loses exactly our note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Never

import structlog

from followup.errors import AuthError, FollowupError
from followup.ledger import Ledger, WriteRow, WriteState
from followup.model import RemoveOutcome, WriteKind
from followup.protocols import Account, Target

log = structlog.get_logger(__name__)


@dataclass
class UndoReport:
    account: str
    removed: list[WriteRow] = field(default_factory=list)
    gone: list[WriteRow] = field(default_factory=list)  # already deleted by the user
    kept: list[WriteRow] = field(default_factory=list)  # edited by the user: left alone
    errors: list[str] = field(default_factory=list)  # not undone this time; run undo again


def _target(account: Account, kind: WriteKind) -> Target[Never]:
    """The target for a kind; Target[Never] because removing needs no payload."""
    targets: dict[WriteKind, Target[Never]] = {
        WriteKind.CONTACT: account.contacts,
        WriteKind.DRAFT: account.drafts,
        WriteKind.BLOCK: account.blocks,
    }
    return targets[kind]


def undo(ledger: Ledger, account: Account) -> UndoReport:
    """Remove every done write of `account`, newest first. Raises AuthError when the account
    needs reconnecting; other failures are reported and left for another run."""
    report = UndoReport(account.name)
    done = ledger.writes(account.name, states=[WriteState.DONE])
    # writes() is oldest first; done_at orders what was applied, created_at what never was.
    order = {row.key: i for i, row in enumerate(done)}
    done.sort(key=lambda r: (r.done_at or r.created_at, order[r.key]), reverse=True)
    for row in done:
        try:
            outcome = _target(account, row.kind).remove(row.key, row.remote_id, row.fingerprint)
        except AuthError:
            raise
        except FollowupError as e:
            report.errors.append(f"{row.kind.value} {row.key}: {e}")
            log.warning("undo.failed", key=row.key, kind=row.kind.value, error=str(e))
            continue
        ledger.mark_removed(row.key, outcome)
        {
            RemoveOutcome.REMOVED: report.removed,
            RemoveOutcome.GONE: report.gone,
            RemoveOutcome.KEPT: report.kept,
        }[outcome].append(row)
        log.info("undo.done", key=row.key, kind=row.kind.value, outcome=outcome.value)
    return report

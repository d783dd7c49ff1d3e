"""The ledger: durable memory of meetings seen and writes made, so each write happens once.

ledger = Ledger.open("sqlite:////home/me/.local/state/followup/ledger.db")
"""

from followup.ledger.rows import (
    AccountStatus,
    LedgerError,
    SchemaTooNewError,
    WriteNotPendingError,
    WriteRow,
    WriteState,
)
from followup.ledger.store import MAX_ATTEMPTS, UNSET, Ledger

__all__ = [
    "MAX_ATTEMPTS",
    "UNSET",
    "AccountStatus",
    "Ledger",
    "LedgerError",
    "SchemaTooNewError",
    "WriteNotPendingError",
    "WriteRow",
    "WriteState",
]

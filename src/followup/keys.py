"""Idempotency keys: stable names for every write, derived from what it is about.

The same meeting, person and touch always give the same key, so a retried or replayed cycle
finds what an earlier one wrote instead of writing it again.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime


def _digest(*parts: str) -> bytes:
    h = hashlib.sha256()
    for part in parts:
        # Length-prefixed so that ("ab", "c") and ("a", "bc") differ.
        data = part.encode("utf-8")
        h.update(len(data).to_bytes(4, "big"))
        h.update(data)
    return h.digest()


def _stamp(when: datetime | None) -> str:
    return "" if when is None else when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def touch_key(
    account: str, meeting_uid: str, occurrence: datetime | None, person: str, touch: int, kind: str
) -> str:
    """Key of one write of one touch: 32 lowercase base32hex characters.

    base32hex (0-9, a-v) is also a valid Google Calendar event id, so the key can be the id.
    """
    raw = _digest(account, meeting_uid, _stamp(occurrence), person.lower(), str(touch), kind)
    return base64.b32hexencode(raw[:20]).decode("ascii").lower()



def weekly_key(account: str, week_start: datetime) -> str:
    """Key of the batched weekly follow-up block for the week starting at `week_start`."""
    raw = _digest(account, "weekly", _stamp(week_start))
    return base64.b32hexencode(raw[:20]).decode("ascii").lower()


def message_id(key: str) -> str:
    """RFC 5322 Message-ID carrying the key, so a draft can be found again by its header."""
    return f"<{key}@followup.invalid>"

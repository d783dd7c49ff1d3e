"""Who the user wrote to and heard from, read from Maildir headers only.

Each message's From/To/Cc/Bcc/Date is read once and kept in memory by unique name (a
Maildir message never changes its content), so later passes over 10,000 messages cost one
directory listing and a dictionary lookup each.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path

import structlog

from followup.errors import EnvironmentFailure
from followup.model import Interaction
from followup.providers.local.maildir import folder_path, list_messages, read_headers

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _Summary:
    at: datetime
    sender: str  # lower-cased address, "" when unknown
    recipients: frozenset[str]
    message_id: str | None = None  # for a later touch's In-Reply-To
    subject: str | None = None


class MaildirMailHistory:
    def __init__(
        self,
        root: Path | None,
        sent_folders: Sequence[str],
        received_folders: Sequence[str],
        user_addresses: Collection[str],
    ) -> None:
        self._root = root
        self._folders: list[tuple[Path, bool]] = []
        if root is not None:
            self._folders += [(folder_path(root, f), True) for f in sent_folders]
            self._folders += [(folder_path(root, f), False) for f in received_folders]
        self._user = {a.lower() for a in user_addresses}
        self._cache: dict[Path, dict[str, _Summary | None]] = {}
        self._missing_logged: set[Path] = set()

    def last_interactions(
        self, emails: Sequence[str], since: datetime
    ) -> dict[str, Interaction]:
        wanted = {e.strip().lower() for e in emails}
        found: dict[str, Interaction] = {}
        if not wanted:
            return found
        if self._root is not None and not self._root.is_dir():
            # Without the mailbox we cannot tell whether the user already wrote: say so.
            raise EnvironmentFailure(f"Maildir {self._root} does not exist; create it or fix "
                                     "`maildir` in the config")
        for folder, is_sent in self._folders:
            for summary in self._summaries(folder):
                if summary is None or summary.at < since:
                    continue
                if is_sent or summary.sender in self._user:
                    people, direction = summary.recipients, "sent"
                else:
                    people, direction = frozenset({summary.sender}), "received"
                for email in people & wanted:
                    held = found.get(email)
                    if held is None or summary.at > held.at:
                        found[email] = Interaction(
                            email=email, at=summary.at, direction=direction,
                            message_id=summary.message_id, subject=summary.subject)
        return found

    def _summaries(self, folder: Path) -> list[_Summary | None]:
        cache = self._cache.setdefault(folder, {})
        entries = list_messages(folder)
        current = {e.key for e in entries}
        for key in [k for k in cache if k not in current]:
            del cache[key]
        if not entries and folder not in self._missing_logged and not folder.is_dir():
            self._missing_logged.add(folder)
            log.warning("mail.folder_missing", folder=str(folder))
        for e in entries:
            if e.key not in cache:
                if e.problem:
                    log.warning("mail.message_skipped", file=e.key, reason=e.problem)
                    cache[e.key] = None
                else:
                    cache[e.key] = _summarise(e.path, e.mtime_ns)
        return list(cache.values())


def _summarise(path: Path, mtime_ns: int) -> _Summary | None:
    try:
        headers = read_headers(path, fast=True)
    except Exception as e:  # one unreadable message must not hide the others
        log.warning("mail.header_unreadable", file=path.name, reason=type(e).__name__)
        return None
    if headers is None:
        return None
    at = _date(headers.get("Date")) or datetime.fromtimestamp(mtime_ns / 1e9, UTC)
    senders = _addresses(headers.get_all("From") or [])
    recipients = _addresses(
        [*(headers.get_all("To") or []), *(headers.get_all("Cc") or []),
         *(headers.get_all("Bcc") or [])]
    )
    return _Summary(at, senders[0] if senders else "", frozenset(recipients),
                    message_id=_one(headers.get("Message-ID")),
                    subject=_decoded(headers.get("Subject")))


def _one(value: object) -> str | None:
    """A header value as one line without spaces (a msg-id), None when absent."""
    if value is None:
        return None
    text = "".join(str(value).split())
    return text or None


def _decoded(value: object) -> str | None:
    """A Subject as the user sees it (encoded-words decoded), one line; None when absent."""
    if value is None:
        return None
    try:
        text = str(make_header(decode_header(str(value))))
    except (ValueError, LookupError, UnicodeError):  # a broken encoded-word: as written
        text = str(value)
    return " ".join(text.split())[:500] or None


def _addresses(values: Sequence[object]) -> list[str]:
    return [addr.strip().lower() for _, addr in getaddresses([str(v) for v in values])
            if "@" in addr]


def _date(value: object) -> datetime | None:
    if value is None:
        return None
    try:
        when = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)  # "-0000": UTC, time unknown

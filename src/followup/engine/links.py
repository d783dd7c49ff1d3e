"""Links from a follow-up block to its drafts, put in when the block is written.

A block is planned with its drafts, but a link to a draft (a Gmail search by Message-ID, an
Outlook webLink, a Maildir file) is only known once the draft exists; the ledger writes drafts
before blocks, so by then it is. The block's description carries one marker per draft
(core.drafting.draft_link_marker) and this replaces each with the best link there is.
"""

from __future__ import annotations

import dataclasses

import structlog

from followup.core.drafting import draft_link_marker
from followup.errors import AuthError, FollowupError
from followup.ledger import Ledger, WriteState
from followup.model import BlockPayload, DraftPayload
from followup.protocols import Account

log = structlog.get_logger(__name__)


def with_draft_links(ledger: Ledger, account: Account, payload: BlockPayload) -> BlockPayload:
    """The block with each draft marker replaced by a link, or by where the draft waits."""
    description = payload.description
    for key in payload.draft_keys:
        marker = draft_link_marker(key)
        if marker in description:
            description = description.replace(marker, _link(ledger, account, key))
    return dataclasses.replace(payload, description=description)


def _link(ledger: Ledger, account: Account, key: str) -> str:
    row = ledger.write(key)
    if row is None or not isinstance(row.payload, DraftPayload):
        return "(no draft)"
    if row.state is WriteState.DISMISSED:
        return "(you deleted this draft)"
    if row.state is not WriteState.DONE:
        return "(not written yet: see `followup status`)"
    message_id = row.payload.message_id
    if account.draft_link is not None:
        try:
            link = account.draft_link(key, row.remote_id, message_id)
        except AuthError:
            raise
        except FollowupError as e:  # a link is a convenience: the block goes on without it
            log.warning("block.draft_link_failed", account=account.name, key=key, error=str(e))
            link = None
        if link:
            return link
    return f"in {account.where_drafts_are}, Message-ID {message_id}"

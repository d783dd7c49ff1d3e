"""Assemble one Google account: credentials, transport, services, sources and targets."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from followup.config import Config, GoogleAccount
from followup.protocols import Account, CredentialInfo, MeetingSource
from followup.providers.google.calendar import CalendarBlocks, CalendarSource, FreeBusy
from followup.providers.google.calls import Caller
from followup.providers.google.client import GoogleClient
from followup.providers.google.credentials import StoredCredentials, credential_info
from followup.providers.google.gmail import GmailDrafts, GmailHistory, InvitationSource
from followup.providers.google.people import GoogleAddressBook, GoogleContacts
from followup.providers.google.services import Services
from followup.providers.google.transport import SessionHttp


def system_clock() -> datetime:
    """The Date header of drafts: the daemon's clock unless a test passes its own."""
    return datetime.now(UTC)


def open_google_account(
    cfg: GoogleAccount,
    config: Config,
    *,
    clock: Callable[[], datetime] = system_clock,
    sleep: Callable[[float], None] = time.sleep,
) -> Account:
    """The Account for a connected Google account. No network call; AuthError when the
    account is not connected or Google refused its grant before."""
    stored = StoredCredentials.load(cfg, config)
    http = SessionHttp.for_credentials(
        stored.credentials,
        timeout=cfg.request_timeout,
        on_token_change=stored.persist,
        on_refused=stored.mark_refused,
    )
    client = GoogleClient(
        cfg=cfg,
        config=config,
        caller=Caller(http, max_attempts=cfg.max_attempts, sleep=sleep),
        api=Services.for_account(cfg),
    )
    blocks = CalendarBlocks(client)
    sources: list[MeetingSource] = [CalendarSource(client, cid) for cid in cfg.calendars]
    sources.append(
        InvitationSource(client, clock, every=timedelta(minutes=cfg.invitations_every_minutes))
    )
    contacts = GoogleContacts(client)
    return Account(
        name=cfg.name,
        kind="google",
        sources=sources,
        availability=FreeBusy(client, blocks),
        mail=GmailHistory(client),
        contacts=contacts,
        address_book=GoogleAddressBook(contacts),
        drafts=GmailDrafts(client, clock),
        blocks=blocks,
        self_addresses=tuple(config.user.addresses),
        where_drafts_are="your Gmail Drafts",
        draft_link=gmail_draft_link,
    )


def gmail_draft_link(key: str, remote_id: str | None, message_id: str) -> str:
    """Gmail finds a message, drafts included, by its Message-ID header: a link that still
    works after the user edits the draft (Gmail's own ids change with every edit)."""
    query = quote(f"rfc822msgid:{message_id.strip().strip('<>')}", safe="")
    return f"https://mail.google.com/mail/u/0/#search/{query}"


def google_credential_info(
    cfg: GoogleAccount, config: Config, *, now: datetime | None = None
) -> CredentialInfo:
    """The stored grant's state for `followup status`/`doctor`; no network call."""
    return credential_info(cfg, config, now or datetime.now(UTC))

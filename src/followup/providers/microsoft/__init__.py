"""Microsoft 365 / Outlook.com through Microsoft Graph (docs/microsoft.md).

Reads the calendar (calendarView delta) and meeting invitations in the Inbox, free/busy
(getSchedule, or calendarView), and sent/received mail; writes contacts, drafts and
follow-up blocks exactly once. Sign-in is msal's device code flow (or the browser).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TextIO

from followup.config import Config, MicrosoftAccount
from followup.protocols import Account, CredentialInfo
from followup.providers._throttle import utc_now
from followup.providers.microsoft.auth import MsalTokens, connect, credential_info
from followup.providers.microsoft.availability import GraphAvailability
from followup.providers.microsoft.calendar import GraphCalendarSource
from followup.providers.microsoft.graph import GraphClient, PinnedSession
from followup.providers.microsoft.invitations import GraphInvitationSource
from followup.providers.microsoft.mail import GraphMailHistory
from followup.providers.microsoft.targets import (
    GraphAddressBook,
    GraphBlockTarget,
    GraphContactTarget,
    GraphDraftTarget,
)

# The token file of an app-only account (push.org_microsoft.account_credential).
APP_ONLY_SUFFIX = ".app.json"

__all__ = ["connect_microsoft", "microsoft_credential_info", "open_microsoft_account"]


def open_microsoft_account(
    cfg: MicrosoftAccount, config: Config, *, sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], datetime] = utc_now,
) -> Account:
    """The Account for a connected Microsoft mailbox. Raises AuthError when not connected.

    No network call happens here; tokens are fetched on the first request. `sleep` is how
    retries wait and `clock` what spaces out the Inbox looks (tests pass their own).
    """
    session = PinnedSession(cfg.ca_bundle, cfg.request_timeout)
    app_file = config.state_path() / "tokens" / f"{cfg.name}{APP_ONLY_SUFFIX}"
    if app_file.is_file():  # company mode's organisation-wide connect: the tenant's app
        from followup.push.org_microsoft import AppTokens

        tokens: MsalTokens | AppTokens = AppTokens.from_file(app_file)
    else:
        tokens = MsalTokens(cfg, config, session)
    graph = GraphClient(cfg.graph_url, tokens, session=session,
                        max_attempts=cfg.max_attempts, sleep=sleep,
                        mailbox=tokens.username if app_file.is_file() else None)
    own = tuple(dict.fromkeys(
        a.lower() for a in (tokens.username, *config.user.addresses) if a and "@" in a))
    drafts = GraphDraftTarget(graph, category=cfg.contact_category)
    contacts = GraphContactTarget(graph, category=cfg.contact_category)
    return Account(
        name=cfg.name,
        kind="microsoft",
        drafts=drafts,
        draft_link=drafts.link,
        sources=[
            GraphCalendarSource(graph, account=cfg.name, self_addresses=own),
            GraphInvitationSource(graph, account=cfg.name, default_tz=config.user.tz,
                                  every=timedelta(minutes=cfg.mail_every_minutes),
                                  clock=clock, user_addresses=own),
        ],
        availability=GraphAvailability(graph, address=own[0] if own else None,
                                       personal=tokens.is_personal),
        mail=GraphMailHistory(graph),
        contacts=contacts,
        address_book=GraphAddressBook(contacts),
        blocks=GraphBlockTarget(graph, calendar=cfg.followup_calendar,
                                category=cfg.contact_category),
        self_addresses=own,
        where_drafts_are="your Outlook Drafts folder",
    )


def microsoft_credential_info(cfg: MicrosoftAccount, config: Config) -> CredentialInfo:
    """The state of the stored sign-in, without any network call."""
    return credential_info(cfg, config)


def connect_microsoft(
    cfg: MicrosoftAccount, config: Config, *, tenant: str | None, client_id: str | None,
    browser: bool, out: TextIO,
) -> int:
    """`followup connect microsoft`: device code by default, --browser for the loopback flow.

    Returns the exit code.
    """
    return connect(cfg, config, tenant=tenant, client_id=client_id, browser=browser, out=out)

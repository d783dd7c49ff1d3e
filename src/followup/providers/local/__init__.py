"""The local provider: vdir calendars and address books, Maildir, .ics URLs. No account needed.

Its output is plain files that khal, khard, mutt and vdirsyncer use as they are: follow-up
blocks as .ics in a vdir, contacts as .vcf in a vdir, drafts as Maildir messages.
Paths left out of the config default to folders under the state directory, so a first run
works with nothing set up; those are created when needed. A configured folder is never
created: a misspelled one would collect files no client reads, so it is an error instead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import structlog

from followup.config import Config, LocalAccount
from followup.protocols import Account, MeetingSource
from followup.providers.local.addressbook import VdirAddressBook
from followup.providers.local.availability import LocalAvailability
from followup.providers.local.blocks import VdirBlocks
from followup.providers.local.calendars import CalendarSource
from followup.providers.local.contacts import VdirContacts
from followup.providers.local.drafts import MaildirDrafts
from followup.providers.local.invitations import InvitationSource
from followup.providers.local.locations import FileLocation, Location, is_url, open_location
from followup.providers.local.mailhistory import MaildirMailHistory
from followup.providers.local.parsecache import ParseCache

log = structlog.get_logger(__name__)


def system_clock() -> datetime:
    """The Date of a draft and the DTSTAMP of a block: when the file is written, like its
    mtime. Pass `clock` to open_local_account for a fixed one."""
    return datetime.now(UTC)


def _maildir_link(folder: Path) -> Callable[[str, str | None, str], str | None]:
    """A draft's file in the Maildir, and its Message-ID (a client that changes its flags
    renames the file; mutt's `~i` pattern finds it by Message-ID anyway)."""

    def link(key: str, remote_id: str | None, message_id: str) -> str | None:
        if not remote_id:
            return None
        return f"{folder / 'cur' / remote_id} (Message-ID {message_id})"

    return link


def _folders(cfg: LocalAccount, config: Config) -> tuple[Path, Path, Path]:
    """The Maildir, address book and follow-ups folders: configured, else in the state dir."""
    home = config.state_path() / "local" / cfg.name
    maildir = Path(cfg.maildir).expanduser() if cfg.maildir else home / "Maildir"
    contacts = Path(cfg.contacts).expanduser() if cfg.contacts else home / "contacts"
    followups = Path(cfg.followups).expanduser() if cfg.followups else home / "followups"
    return maildir, contacts, followups


def watched_paths(cfg: LocalAccount, config: Config) -> list[tuple[str, int]] | None:
    """Every file or folder this account's cycle reads, with how many folder levels below
    it matter (vdirs have sub-calendars one level down; a Maildir folder its cur/ and new/):
    unchanged, with nothing due, a cycle has nothing to do (service.snapshot). None when a
    calendar is a URL: only fetching it tells whether it changed."""
    if any(is_url(spec) for spec in cfg.calendars):
        return None
    maildir, contacts, followups = _folders(cfg, config)
    paths = [(str(Path(spec).expanduser()), 1) for spec in cfg.calendars]
    folders = {cfg.drafts_folder}
    if cfg.maildir:
        folders |= {*cfg.invitations_folders, *cfg.sent_folders, *cfg.received_folders}
    paths += [(str(maildir / f if f else maildir), 1) for f in sorted(folders)]
    return [*paths, (str(contacts), 1), (str(followups), 1)]


def open_local_account(
    cfg: LocalAccount, config: Config, *, clock: Callable[[], datetime] = system_clock
) -> Account:
    tz = config.user.tz
    maildir, contacts, followups = _folders(cfg, config)

    locations: list[Location] = [open_location(spec) for spec in cfg.calendars]
    parsed = ParseCache()  # each file parsed once, for the sync and for free/busy
    sources: list[MeetingSource] = [CalendarSource(loc, tz, parsed) for loc in locations]
    if cfg.maildir:
        sources += [InvitationSource(maildir, f, tz, config.user.addresses)
                    for f in cfg.invitations_folders]
    busy_from = list(locations)
    if cfg.busy_from_followups:
        busy_from.append(FileLocation(followups, missing_ok=True))

    drafts_folder = maildir / cfg.drafts_folder if cfg.drafts_folder else maildir
    address_book = VdirAddressBook(VdirContacts(contacts, create=not cfg.contacts))
    log.debug("local.account_opened", account=cfg.name, calendars=len(locations),
              maildir=str(maildir), contacts=str(contacts), followups=str(followups))
    return Account(
        name=cfg.name,
        kind="local",
        sources=sources,
        availability=LocalAvailability(busy_from, tz, config.user.addresses, parsed),
        mail=MaildirMailHistory(
            maildir if cfg.maildir else None, cfg.sent_folders, cfg.received_folders,
            config.user.addresses,
        ),
        contacts=address_book.contacts,
        address_book=address_book,
        draft_link=_maildir_link(drafts_folder),
        drafts=MaildirDrafts(drafts_folder, subfolder=bool(cfg.drafts_folder), clock=clock,
                             root=maildir if cfg.maildir else None),
        blocks=VdirBlocks(followups, tz, clock, create=not cfg.followups),
        self_addresses=tuple(config.user.addresses),
        where_drafts_are=f"the {cfg.drafts_folder.lstrip('.') or 'INBOX'} folder of {maildir}",
    )

"""Configuration: one TOML file, validated into typed models.

Every problem in a file is reported at once (ConfigError lists them all), without a traceback.
config/followup.example.toml documents every key with its default; keep the two in step.
"""

from __future__ import annotations

import os
import tomllib
from datetime import time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

APP = "followup"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class ConfigError(Exception):
    """A config file that cannot be used. `problems` holds one line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UserConfig(_Model):
    name: str = ""
    addresses: list[str] = Field(default_factory=list)  # all the user's own addresses/aliases
    domains: list[str] = Field(default_factory=list)  # colleagues: the user's own domains
    timezone: str = "UTC"
    intro: str = ""  # one line: who the user is and what they do
    signature: str = ""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown time zone {v!r}") from e
        return v

    @field_validator("addresses", "domains")
    @classmethod
    def _lower(cls, v: list[str]) -> list[str]:
        return [x.strip().lower() for x in v]

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class TriageConfig(_Model):
    max_attendees: int = Field(10, ge=1)  # more than this (user included): a large meeting
    skip_all_day: bool = True
    # Local parts (before @) that mark machines and lists, matched as whole words.
    skip_local_parts: list[str] = Field(
        default_factory=lambda: [
            "noreply", "no-reply", "donotreply", "do-not-reply", "notifications", "notification",
            "mailer-daemon", "postmaster", "calendar", "bounce", "bounces", "list", "lists",
            "all", "team", "info", "support", "newsletter", "room", "rooms",
        ]
    )
    skip_domains: list[str] = Field(
        default_factory=lambda: ["resource.calendar.google.com", "group.calendar.google.com"]
    )
    skip_addresses: list[str] = Field(default_factory=list)  # never follow up with these


_WORKWEEK: list[Weekday] = ["mon", "tue", "wed", "thu", "fri"]


class ScheduleConfig(_Model):
    working_days: list[Weekday] = Field(default_factory=lambda: _WORKWEEK.copy())
    day_start: time = time(9, 0)
    day_end: time = time(17, 30)
    grace_minutes: int = Field(10, ge=0)  # after a meeting ends, before we act on it
    block_minutes: int = Field(15, ge=5)
    target_hours: int = Field(24, ge=1)  # the block should end within this of the meeting's end
    deadline_hours: int = Field(72, ge=1)  # and never later than this
    proposed_slots: int = Field(3, ge=0, le=5)
    proposed_slot_minutes: int = Field(30, ge=15)
    cadence_min_days: int = Field(21, ge=1)
    cadence_max_days: int = Field(28, ge=1)
    weekly_batch: bool = True  # one weekly block for nurture touches instead of one each
    weekly_day: Weekday = "fri"
    weekly_time: time = time(15, 0)
    weekly_block_minutes: int = Field(45, ge=5)


class DaemonConfig(_Model):
    poll_seconds: int = Field(300, ge=10)
    lookback_days: int = Field(3, ge=0)  # on a first start, meetings this far back count
    horizon_days: int = Field(14, ge=1)  # how far ahead to read calendars
    http_listen: str | None = None  # e.g. "127.0.0.1:9464" for /healthz and /metrics


class LedgerConfig(_Model):
    url: str | None = None  # SQLAlchemy URL; default: SQLite file in the state dir


class LocalAccount(_Model):
    kind: Literal["local"] = "local"
    name: str = "local"
    # Inputs: vdir folders (one .ics per event), single .ics files, or http(s) .ics URLs.
    calendars: list[str] = Field(default_factory=list)
    maildir: str | None = None  # Maildir++ root; folders below are relative to it
    invitations_folders: list[str] = Field(default_factory=lambda: [""])  # "" = INBOX
    sent_folders: list[str] = Field(default_factory=lambda: [".Sent"])
    received_folders: list[str] = Field(default_factory=lambda: [""])
    drafts_folder: str = ".Drafts"
    contacts: str | None = None  # vdir address book (one .vcf per contact)
    followups: str | None = None  # vdir calendar for follow-up blocks
    busy_from_followups: bool = True  # our own blocks count as busy time


class GoogleAccount(_Model):
    kind: Literal["google"] = "google"
    name: str
    client_secrets: str | None = None
    calendars: list[str] = Field(default_factory=lambda: ["primary"])
    followup_calendar: str = "primary"  # or a name, e.g. "Follow-ups": created on first use
    contact_group: str = "followup"
    invitations_query: str = "has:attachment filename:ics"
    # Invitation mails are looked for at most this often (0: every cycle), so that most idle
    # cycles cost one events.list per calendar and nothing else.
    invitations_every_minutes: int = Field(30, ge=0)
    # Stand-ins for Google (a local test server): every base URL and the token URI.
    calendar_url: str = "https://www.googleapis.com/calendar/v3/"
    gmail_url: str = "https://gmail.googleapis.com/"
    people_url: str = "https://people.googleapis.com/"
    token_uri: str = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, not a secret
    use_keyring: bool = False
    # The OAuth client's project is in "Testing" status: Google expires refresh tokens 7 days
    # after consent, so `followup status` warns before that. Set false once "In production".
    testing_app: bool = True
    request_timeout: float = Field(30.0, gt=0)  # seconds per HTTP request
    max_attempts: int = Field(5, ge=1, le=10)  # per call, retries included (429, 5xx, timeouts)


class MicrosoftAccount(_Model):
    kind: Literal["microsoft"] = "microsoft"
    name: str
    client_id: str | None = None
    tenant: str = "common"
    authority_url: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    followup_calendar: str | None = None  # None: the default calendar
    contact_category: str = "followup"
    encrypt_token_cache: bool = False
    # CA bundle for TLS to the authority and Graph (a TLS-inspecting proxy, a test server).
    # It wins over REQUESTS_CA_BUNDLE, which would otherwise silently replace it.
    ca_bundle: str | None = None
    request_timeout: float = Field(30.0, gt=0)  # seconds per HTTP request
    max_attempts: int = Field(5, ge=1, le=10)  # per call, retries included (429, 503, 5xx)


AccountConfig = Annotated[
    LocalAccount | GoogleAccount | MicrosoftAccount, Field(discriminator="kind")
]


class Config(_Model):
    user: UserConfig = Field(default_factory=UserConfig)
    triage: TriageConfig = Field(default_factory=TriageConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)
    templates_dir: str | None = None  # user templates that override the shipped ones
    state_dir: str | None = None  # default: XDG state dir
    accounts: list[AccountConfig] = Field(default_factory=list)

    @field_validator("accounts")
    @classmethod
    def _unique_names(cls, v: list[AccountConfig]) -> list[AccountConfig]:
        names = [a.name for a in v]
        dups = sorted({n for n in names if names.count(n) > 1})
        if dups:
            raise ValueError(f"account names must be unique: {', '.join(dups)}")
        return v

    def state_path(self) -> Path:
        if self.state_dir:
            return Path(self.state_dir).expanduser()
        return Path(platformdirs.user_state_dir(APP))

    def ledger_url(self) -> str:
        if self.ledger.url:
            return self.ledger.url
        return f"sqlite:///{self.state_path() / 'ledger.sqlite3'}"


def default_config_path() -> Path:
    env = os.environ.get("FOLLOWUP_CONFIG")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir(APP)) / "followup.toml"


def _describe(err: ValidationError) -> list[str]:
    lines = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"{where}: {e['msg']}")
    return lines


def parse_config(text: str, source: str = "<config>", base_dir: Path | None = None) -> Config:
    """Parse TOML text. Relative paths in the file are relative to `base_dir`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(source, [f"not valid TOML: {e}"]) from None
    try:
        cfg = Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError(source, _describe(e)) from None
    return _resolve_paths(cfg, base_dir) if base_dir else cfg


def load_config(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(str(path), [f"cannot read: {e.strerror}"]) from None
    return parse_config(text, str(path), path.parent.resolve())


def _resolve(base: Path, p: str | None) -> str | None:
    if p is None or "://" in p:
        return p
    q = Path(p).expanduser()
    return str(q if q.is_absolute() else base / q)


def _resolve_paths(cfg: Config, base: Path) -> Config:
    accounts: list[LocalAccount | GoogleAccount | MicrosoftAccount] = []
    for a in cfg.accounts:
        if isinstance(a, LocalAccount):
            a = a.model_copy(
                update={
                    "calendars": [_resolve(base, c) or c for c in a.calendars],
                    "maildir": _resolve(base, a.maildir),
                    "contacts": _resolve(base, a.contacts),
                    "followups": _resolve(base, a.followups),
                }
            )
        elif isinstance(a, GoogleAccount):
            a = a.model_copy(update={"client_secrets": _resolve(base, a.client_secrets)})
        else:
            a = a.model_copy(update={"ca_bundle": _resolve(base, a.ca_bundle)})
        accounts.append(a)
    ledger = cfg.ledger
    if ledger.url and ledger.url.startswith("sqlite:///") and not ledger.url.startswith(
        "sqlite:////"
    ):
        ledger = LedgerConfig(url="sqlite:///" + (_resolve(base, ledger.url[10:]) or ""))
    return cfg.model_copy(
        update={
            "accounts": accounts,
            "ledger": ledger,
            "state_dir": _resolve(base, cfg.state_dir),
            "templates_dir": _resolve(base, cfg.templates_dir),
        }
    )

"""Configuration: one TOML file, validated into typed models.

Every problem in a file is reported at once (ConfigError lists them all), without a traceback.
config/followup.example.toml documents every key with its default; keep the two in step.
"""

from __future__ import annotations

import re
import tomllib
from datetime import time
from pathlib import Path
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from followup.paths import resolve, state_dir

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# Account names become file names (tokens/<name>.json): nothing that leaves the folder.
ACCOUNT_NAME = re.compile(r"[A-Za-z0-9._-]+")
# Bounds for every number: a typo (1e14 seconds, 10**30 days) is a config error, not an
# OverflowError in the middle of a cycle.
DAY_MINUTES = 24 * 60
MAX_DAYS = 366


class ConfigError(Exception):
    """A config file that cannot be used. `problems` holds one line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _address(v: str) -> str:
    """A bare address (no name, no angle brackets), lower-cased; ValueError in words."""
    a = v.strip().lower()
    try:
        validate_email(a, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as e:
        raise ValueError(f"{v!r} is not an email address: {str(e).rstrip('.')}") from None
    return a


def _domain(v: str) -> str:
    """A domain such as example.org (a leading @ is forgiven), lower-cased."""
    d = v.strip().lower().removeprefix("@")
    try:
        validate_email(f"x@{d}", check_deliverability=False)
    except EmailNotValidError:
        raise ValueError(f"{v!r} is not a domain such as example.org") from None
    return d


def _addresses(v: list[str]) -> list[str]:
    return _all_or_errors(v, _address)


def _domains(v: list[str]) -> list[str]:
    return _all_or_errors(v, _domain)


def _all_or_errors(values: list[str], check: object) -> list[str]:
    """Check every item and report every bad one in one message."""
    assert callable(check)
    good, bad = [], []
    for x in values:
        try:
            good.append(check(x))
        except ValueError as e:
            bad.append(str(e))
    if bad:
        raise ValueError("; ".join(bad))
    return good


def _account_name(v: str) -> str:
    if not ACCOUNT_NAME.fullmatch(v) or v in (".", ".."):
        raise ValueError(
            f"{v!r} cannot be an account name: use letters, digits, '.', '_' and '-' only "
            "(it names the account's token file)"
        )
    return v


class UserConfig(_Model):
    name: str = ""
    addresses: list[str] = Field(default_factory=list)  # all the user's own addresses/aliases
    domains: list[str] = Field(default_factory=list)  # colleagues: the user's own domains
    timezone: str = "UTC"
    intro: str = ""  # one line: who the user is and what they do
    signature: str = ""
    # The language drafts are written in when the notes do not show another one.
    language: Literal["en", "de", "es", "fr"] = "en"
    # `intro` in other languages ({de = "...", fr = "..."}); a draft in a language without
    # one carries no intro line rather than an English one.
    intros: dict[Literal["en", "de", "es", "fr"], str] = Field(default_factory=dict)
    # ISO 3166 country (optionally "DE-BY" for a subdivision) whose public holidays get no
    # follow-up block nor due date; "" = none.
    country: str = ""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown time zone {v!r}") from e
        return v

    @field_validator("addresses")
    @classmethod
    def _real_addresses(cls, v: list[str]) -> list[str]:
        return _addresses(v)

    @field_validator("country")
    @classmethod
    def _known_country(cls, v: str) -> str:
        from followup.core.offdays import check_country

        return check_country(v)

    @field_validator("domains")
    @classmethod
    def _real_domains(cls, v: list[str]) -> list[str]:
        return _domains(v)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class TriageConfig(_Model):
    # More attendees than this (the user included): a large meeting.
    max_attendees: int = Field(10, ge=1, le=10_000)
    skip_all_day: bool = True
    # Local parts (before @) that mark machines and lists, matched as whole words.
    skip_local_parts: list[str] = Field(
        default_factory=lambda: [
            "noreply", "no-reply", "donotreply", "do-not-reply", "notifications", "notification",
            "mailer-daemon", "postmaster", "calendar", "bounce", "bounces", "list", "lists",
            "all", "team", "info", "support", "newsletter", "room", "rooms",
            # Shared mailboxes: many people read them, nobody is the contact.
            "events", "hello", "press", "office", "sales", "contact",
        ]
    )
    skip_domains: list[str] = Field(
        default_factory=lambda: ["resource.calendar.google.com", "group.calendar.google.com"]
    )
    skip_addresses: list[str] = Field(default_factory=list)  # never follow up with these

    @field_validator("skip_domains")
    @classmethod
    def _real_domains(cls, v: list[str]) -> list[str]:
        return _domains(v)

    @field_validator("skip_addresses")
    @classmethod
    def _real_addresses(cls, v: list[str]) -> list[str]:
        return _addresses(v)


class DraftsConfig(_Model):
    """How first-touch drafts are grouped and what they offer (PLAYBOOK §2)."""

    # Several new people from one meeting: one draft per company (people at webmail
    # addresses each get their own) or one draft to all of them.
    group_by: Literal["company", "meeting"] = "company"
    # Your booking page (Calendly, cal.com, ...): offered instead of proposed slots.
    booking_url: str = ""
    # An offered slot stays reserved this long after the draft is written (or until the
    # slot is over, or the draft is deleted).
    offer_hold_hours: int = Field(72, ge=1, le=24 * 30)
    # A slot is never offered to more than this many open drafts at once.
    max_offers_per_slot: int = Field(2, ge=1, le=10)
    # Hold offered times on your calendar as tentative events (removed when the draft is
    # deleted unsent or the hold passes); a held time is offered to one draft only.
    hold_offers: bool = False
    # A TOML file of your resources ([[resource]] title, url, tags): a later touch offers
    # the one that fits the person's meeting and notes best.
    resources_file: str | None = None

    @field_validator("booking_url")
    @classmethod
    def _https(cls, v: str) -> str:
        v = v.strip()
        if v and not v.startswith(("https://", "http://")):
            raise ValueError("booking_url must be an http(s) URL")
        return v


_WORKWEEK: list[Weekday] = ["mon", "tue", "wed", "thu", "fri"]


class ScheduleConfig(_Model):
    working_days: list[Weekday] = Field(
        default_factory=lambda: _WORKWEEK.copy(), min_length=1, max_length=7)
    day_start: time = time(9, 0)
    day_end: time = time(17, 30)
    grace_minutes: int = Field(10, ge=0, le=DAY_MINUTES)  # after a meeting ends, before we act
    block_minutes: int = Field(15, ge=5, le=8 * 60)
    # The block should end within target_hours of the meeting's end, never after deadline_hours.
    target_hours: int = Field(24, ge=1, le=MAX_DAYS * 24)
    deadline_hours: int = Field(72, ge=1, le=MAX_DAYS * 24)
    proposed_slots: int = Field(3, ge=0, le=5)
    proposed_slot_minutes: int = Field(30, ge=15, le=8 * 60)
    cadence_min_days: int = Field(21, ge=1, le=MAX_DAYS)
    cadence_max_days: int = Field(28, ge=1, le=MAX_DAYS)
    weekly_batch: bool = True  # one weekly block for nurture touches instead of one each
    weekly_day: Weekday = "fri"
    weekly_time: time = time(15, 0)
    weekly_block_minutes: int = Field(45, ge=5, le=8 * 60)  # the longest weekly block
    # The weekly block gets this much per draft (at least block_minutes, at most
    # weekly_block_minutes; a bigger batch is split into several blocks).
    minutes_per_draft: int = Field(5, ge=1, le=60)
    # After this many touches in a row without an answer the cadence slows to quarterly,
    # or stops (after_unanswered); 0 = never.
    unanswered_limit: int = Field(3, ge=0, le=100)
    after_unanswered: Literal["quarterly", "stop"] = "quarterly"

    @field_validator("working_days")
    @classmethod
    def _no_repeats(cls, v: list[Weekday]) -> list[Weekday]:
        repeated = sorted({d for d in v if v.count(d) > 1}, key=WEEKDAYS.index)
        if repeated:
            raise ValueError(f"names {', '.join(repeated)} more than once")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = schedule_problems(self.model_dump())
        if problems:
            raise ValueError("; ".join(problems))
        return self


def schedule_problems(values: dict[str, object]) -> list[str]:
    """Settings that are each fine but make no sense together, one sentence each.

    Takes raw values too (missing ones: the defaults; wrongly typed ones: not compared), so
    a file with other errors still hears about these in the same report.
    """
    defaults = {k: f.get_default(call_default_factory=True)
                for k, f in ScheduleConfig.model_fields.items()}
    v = {**defaults, **values}
    problems = []

    def both(a: str, b: str, kind: type) -> bool:
        return all(isinstance(v[k], kind) and not isinstance(v[k], bool) for k in (a, b))

    if both("day_start", "day_end", time) and _le(v["day_end"], v["day_start"]):
        problems.append(f"`schedule.day_end` ({v['day_end']}) must be later than "
                        f"`schedule.day_start` ({v['day_start']})")
    if both("cadence_min_days", "cadence_max_days", int) and _lt(
            v["cadence_max_days"], v["cadence_min_days"]):
        problems.append(f"`schedule.cadence_min_days` ({v['cadence_min_days']}) must not be "
                        f"more than `schedule.cadence_max_days` ({v['cadence_max_days']})")
    if both("target_hours", "deadline_hours", int) and _lt(
            v["deadline_hours"], v["target_hours"]):
        problems.append(f"`schedule.deadline_hours` ({v['deadline_hours']}) must not be less "
                        f"than `schedule.target_hours` ({v['target_hours']})")
    return problems


def _le(a: object, b: object) -> bool:
    return bool(a <= b)  # type: ignore[operator]


def _lt(a: object, b: object) -> bool:
    return bool(a < b)  # type: ignore[operator]


class DaemonConfig(_Model):
    poll_seconds: int = Field(300, ge=10, le=24 * 3600)
    lookback_days: int = Field(3, ge=0, le=MAX_DAYS)  # on a first start, meetings this far back
    horizon_days: int = Field(14, ge=1, le=MAX_DAYS)  # how far ahead to read calendars
    # On a first start, people met this far back join the cadence (no first touch for them).
    backfill_days: int = Field(60, ge=0, le=MAX_DAYS)
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

    _name_is_a_file_name = field_validator("name")(_account_name)


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
    invitations_every_minutes: int = Field(30, ge=0, le=7 * DAY_MINUTES)
    # Stand-ins for Google (a local test server): every base URL and the token URI.
    calendar_url: str = "https://www.googleapis.com/calendar/v3/"
    gmail_url: str = "https://gmail.googleapis.com/"
    people_url: str = "https://people.googleapis.com/"
    token_uri: str = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, not a secret
    use_keyring: bool = False
    # The OAuth client's project is in "Testing" status: Google expires refresh tokens 7 days
    # after consent, so `followup status` warns before that. Set false once "In production".
    testing_app: bool = True
    request_timeout: float = Field(30.0, gt=0, le=600)  # seconds per HTTP request
    max_attempts: int = Field(5, ge=1, le=10)  # per call, retries included (429, 5xx, timeouts)

    _name_is_a_file_name = field_validator("name")(_account_name)


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
    # The Inbox is looked at for invitation mails at most this often (0: every cycle), so
    # that most idle cycles cost one calendar delta request and nothing else.
    mail_every_minutes: int = Field(30, ge=0, le=7 * DAY_MINUTES)
    # CA bundle for TLS to the authority and Graph (a TLS-inspecting proxy, a test server).
    # It wins over REQUESTS_CA_BUNDLE, which would otherwise silently replace it.
    ca_bundle: str | None = None
    request_timeout: float = Field(30.0, gt=0, le=600)  # seconds per HTTP request
    max_attempts: int = Field(5, ge=1, le=10)  # per call, retries included (429, 503, 5xx)

    _name_is_a_file_name = field_validator("name")(_account_name)


AccountConfig = Annotated[
    LocalAccount | GoogleAccount | MicrosoftAccount, Field(discriminator="kind")
]


class Config(_Model):
    user: UserConfig = Field(default_factory=UserConfig)
    triage: TriageConfig = Field(default_factory=TriageConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    drafts: DraftsConfig = Field(default_factory=DraftsConfig)
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

    @field_validator("templates_dir")
    @classmethod
    def _templates_exist(cls, v: str | None, info: ValidationInfo) -> str | None:
        """A mistyped templates_dir would silently fall back to the shipped templates."""
        if v is None:
            return v
        base = (info.context or {}).get("base_dir")
        resolved = resolve(base, v) if base else str(Path(v).expanduser())
        if not Path(resolved or v).is_dir():
            raise ValueError(f"{resolved} is not a folder (templates_dir names a folder of "
                             "Jinja2 templates; remove the line to use the shipped ones)")
        return v

    def state_path(self) -> Path:
        return state_dir(self.state_dir)

    def ledger_url(self) -> str:
        if self.ledger.url:
            return self.ledger.url
        return f"sqlite:///{self.state_path() / 'ledger.sqlite3'}"


def parse_config(text: str, source: str = "<config>", base_dir: Path | None = None) -> Config:
    """Parse TOML text. Relative paths in the file are relative to `base_dir`."""
    from followup.config_messages import KeyLines, describe, sort_by_line

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(source, [f"not valid TOML: {e}"]) from None
    try:
        cfg = Config.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as e:
        lines = KeyLines(text)
        problems = describe(e, Config, lines)
        schedule = data.get("schedule")
        if isinstance(schedule, dict) and not any(e["loc"] == ("schedule",) for e in
                                                  e.errors()):
            # The schedule's own errors kept its cross checks from running: run them here.
            problems += [lines.locate(p) for p in schedule_problems(schedule)]
        raise ConfigError(source, sort_by_line(problems)) from None
    return _resolve_paths(cfg, base_dir) if base_dir else cfg


def decode_config(data: bytes, source: str) -> str:
    """The file's text; a byte that is not UTF-8 is a ConfigError naming its line."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ConfigError(source, [
            f"line {line}: byte 0x{data[e.start]:02x} is not UTF-8; save the file as UTF-8"
        ]) from None


def load_config(path: Path) -> Config:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(str(path), [f"cannot read: {e.strerror}"]) from None
    return parse_config(decode_config(data, str(path)), str(path), path.parent.resolve())


def _resolve_paths(cfg: Config, base: Path) -> Config:
    accounts: list[LocalAccount | GoogleAccount | MicrosoftAccount] = []
    for a in cfg.accounts:
        if isinstance(a, LocalAccount):
            a = a.model_copy(
                update={
                    "calendars": [resolve(base, c) or c for c in a.calendars],
                    "maildir": resolve(base, a.maildir),
                    "contacts": resolve(base, a.contacts),
                    "followups": resolve(base, a.followups),
                }
            )
        elif isinstance(a, GoogleAccount):
            a = a.model_copy(update={"client_secrets": resolve(base, a.client_secrets)})
        else:
            a = a.model_copy(update={"ca_bundle": resolve(base, a.ca_bundle)})
        accounts.append(a)
    ledger = cfg.ledger
    if ledger.url and ledger.url.startswith("sqlite:///") and not ledger.url.startswith(
        "sqlite:////"
    ):
        ledger = LedgerConfig(url="sqlite:///" + (resolve(base, ledger.url[10:]) or ""))
    return cfg.model_copy(
        update={
            "accounts": accounts,
            "ledger": ledger,
            "state_dir": resolve(base, cfg.state_dir),
            "templates_dir": resolve(base, cfg.templates_dir),
        }
    )

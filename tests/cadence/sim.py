"""The cadence over months: the real engine, a provider, and a scripted user.

The user handles the Drafts folder at the end of each working day: per person and touch, a
script says send, delete or leave it; the people answer when the script says so; the user
deletes a block the script names, and writes by hand once. Everything the user saw (drafts
and blocks as they appeared, what was sent, deleted, answered) goes into a timeline that the
tests check rule by rule and benchmarks/cadence_timeline.py prints.

Providers are driven through a small `Mailbox` adapter (local files here; Google and
Microsoft fakes in their tests), so the same user runs on each.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Literal, Protocol

from icalendar import Calendar

from followup.config import (
    Config,
    DaemonConfig,
    DraftsConfig,
    LocalAccount,
    ScheduleConfig,
    UserConfig,
)
from followup.core.compose import Composer
from followup.demo.workspace import Person, make_event
from followup.engine.cycle import CycleReport, run_cycle
from followup.ledger import Ledger
from followup.protocols import Account
from followup.providers.local import open_local_account

ME = "ada@analytical-engines.example"
START = datetime(2026, 10, 5, 6, 0, tzinfo=UTC)  # a Monday; 120 days later is February
DAYS = 124
ZONE = "Europe/Berlin"

Action = Literal["send", "delete", "leave"]


@dataclass(frozen=True)
class Contact:
    """One person of the script: when the user met them, their notes, and what happens."""

    key: str  # a short name for the timeline
    person: Person
    day: float  # days after START (negative: before the first start)
    title: str
    notes: str
    actions: dict[int, Action] = field(default_factory=dict)  # touch number -> action
    default: Action = "send"
    reply_after: dict[int, float] = field(default_factory=dict)  # touch -> days to answer
    delete_first_block: bool = False
    hand_mail_day: float | None = None  # the user writes to them by hand that day


def contacts() -> list[Contact]:
    return [
        Contact("candidate", Person("Carla Mendes", "carla@mendes-mail.example"), 1.2,
                "Coffee with Carla", "Strong on systems, weak on product.",
                actions={1: "delete"}),
        Contact("vendor", Person("Victor Hale", "victor@halesupply.example"), 2.3,
                "Intro: Hale Supply", "Storage hardware. Pushy.",
                default="leave", delete_first_block=True),
        Contact("investor", Person("Ines Park", "ines@parkcapital.example"), 3.25,
                "Coffee with Ines (seed round)",
                "Fundraising for the seed round. Ping me in 3 weeks.",
                reply_after={2: 2}),
        Contact("silent", Person("Sam Ortiz", "sam@ortiz-labs.example"), 1.4,
                "Benchmark chat", "Interested in database benchmarks."),
        Contact("caller", Person("Cody Brandt", "cody@brandt-bau.example"), 8.25,
                "Site visit", "Call me in three months about the expansion."),
        Contact("hand", Person("Hana Ito", "hana@ito-design.example"), 9.3,
                "Design review", "Will send the mockups.", hand_mail_day=20.3),
        Contact("backfilled", Person("Olga Petrova", "olga@petrova-consult.example"), -40.3,
                "Strategy lunch", "Talked about expansion to Poland."),
    ]


RESOURCES = """
[[resource]]
title = "Our benchmark of vector databases"
url = "https://analytical-engines.example/vector-bench"
tags = ["benchmarks", "database"]

[[resource]]
title = "The seed-stage metrics guide"
url = "https://analytical-engines.example/seed-metrics"
tags = ["fundraising", "seed"]
"""


@dataclass
class Seen:
    at: datetime
    who: str  # the contact's key; "a+b" for a block of several
    what: str  # "draft", "call block", "block", "sent", "deleted", "replied", ...
    detail: str = ""


@dataclass
class Draft:
    ident: str  # the provider's handle
    to: str
    subject: str
    body: str
    message_id: str
    in_reply_to: str | None
    thread: str | None = None  # Gmail thread / Graph conversation, where there is one


@dataclass
class Block:
    ident: str
    start: datetime
    end: datetime
    summary: str
    description: str


class Mailbox(Protocol):
    account: Account

    def add_meeting(self, c: Contact, start: datetime, end: datetime) -> None: ...
    def add_busy_day(self, uid: str, day: datetime) -> None: ...
    def drafts(self) -> list[Draft]: ...
    def send(self, draft: Draft, at: datetime) -> None: ...
    def delete_draft(self, draft: Draft) -> None: ...
    def receive(self, sender: str, subject: str, at: datetime, in_reply_to: str | None,
                thread: str | None) -> None: ...
    def write_by_hand(self, to: str, at: datetime) -> None: ...
    def blocks(self) -> list[Block]: ...
    def delete_block(self, block: Block) -> None: ...
    def set_clock(self, now: datetime) -> None: ...


def config(state_dir: Path, resources: Path | None, accounts: list[LocalAccount] | None = None,
           **schedule: object) -> Config:
    return Config(
        user=UserConfig(name="Ada Lovelace", addresses=[ME], timezone=ZONE, country="DE",
                        domains=["analytical-engines.example"]),
        schedule=ScheduleConfig(**schedule),  # type: ignore[arg-type]
        daemon=DaemonConfig(),
        drafts=DraftsConfig(resources_file=str(resources) if resources else None),
        state_dir=str(state_dir),
        accounts=accounts or [],
    )


# --- the local provider ----------------------------------------------------------------------


class LocalMailbox:
    """vdir calendar, Maildir (INBOX, .Sent, .Drafts) and a followups vdir in a folder."""

    def __init__(self, root: Path, resources: bool = True) -> None:
        self.root = root
        self.calendar = root / "calendars" / "work"
        self.followups = root / "calendars" / "followups"
        self.maildir = root / "Maildir"
        self.calendar.mkdir(parents=True)
        self.followups.mkdir(parents=True)
        for folder in ("", ".Sent", ".Drafts"):
            for sub in ("cur", "new", "tmp"):
                (self.maildir / folder / sub).mkdir(parents=True, exist_ok=True)
        self.resources = root / "resources.toml" if resources else None
        if self.resources is not None:
            self.resources.write_text(RESOURCES, encoding="utf-8")
        cfg = LocalAccount(calendars=[str(self.calendar)], maildir=str(self.maildir),
                           followups=str(self.followups), contacts=str(root / "contacts"))
        (root / "contacts").mkdir()
        self.config = config(root / "state", self.resources, [cfg])
        self.now = START
        self.account = open_local_account(cfg, self.config, clock=lambda: self.now)
        self._n = 0

    def set_clock(self, now: datetime) -> None:
        self.now = now

    def add_meeting(self, c: Contact, start: datetime, end: datetime) -> None:
        cal = make_event(f"{c.key}@sim.example", c.title, start, end, [c.person],
                         description=c.notes)
        (self.calendar / f"{c.key}.ics").write_bytes(cal.to_ical())

    def add_busy_day(self, uid: str, day: datetime) -> None:
        cal = Calendar()
        cal.add("prodid", "-//sim//EN")
        cal.add("version", "2.0")
        from icalendar import Event

        ev = Event()
        ev.add("uid", uid)
        ev.add("summary", "Out of office")
        ev.add("dtstamp", day)
        ev.add("dtstart", day.date())
        ev.add("dtend", (day + timedelta(days=1)).date())
        ev.add("transp", "OPAQUE")
        cal.add_component(ev)
        (self.calendar / f"{uid}.ics").write_bytes(cal.to_ical())

    def _messages(self, folder: str) -> list[tuple[Path, Message]]:
        out = []
        for sub in ("cur", "new"):
            for path in sorted((self.maildir / folder / sub).iterdir()):
                out.append((path, message_from_bytes(path.read_bytes())))
        return out

    def drafts(self) -> list[Draft]:
        out = []
        for path, msg in self._messages(".Drafts"):
            body = msg.get_payload(decode=True)
            assert isinstance(body, bytes)
            out.append(Draft(str(path), email.utils.parseaddr(str(msg["To"]))[1],
                             str(msg["Subject"]), body.decode("utf-8"),
                             str(msg["Message-ID"]),
                             str(msg["In-Reply-To"]) if msg["In-Reply-To"] else None))
        return out

    def _deliver(self, folder: str, raw: bytes) -> None:
        self._n += 1
        (self.maildir / folder / "cur" / f"{1800000000 + self._n}.M{self._n}P1.sim:2,S")\
            .write_bytes(raw)

    def send(self, draft: Draft, at: datetime) -> None:
        """What a mail client does on send: the draft, dated now, into Sent."""
        path = Path(draft.ident)
        msg = message_from_bytes(path.read_bytes())
        msg.replace_header("Date", email.utils.format_datetime(at))
        msg["From"] = ME
        self._deliver(".Sent", msg.as_bytes())
        path.unlink()

    def delete_draft(self, draft: Draft) -> None:
        Path(draft.ident).unlink()

    def receive(self, sender: str, subject: str, at: datetime, in_reply_to: str | None,
                thread: str | None) -> None:
        self._n += 1
        reply = f"In-Reply-To: {in_reply_to}\r\nReferences: {in_reply_to}\r\n" \
            if in_reply_to else ""
        self._deliver("", (
            f"From: {sender}\r\nTo: {ME}\r\nSubject: {subject}\r\n"
            f"Date: {email.utils.format_datetime(at)}\r\n"
            f"Message-ID: <reply{self._n}@{sender.split('@')[1]}>\r\n{reply}\r\n"
            "Thanks, let's talk soon.\r\n").encode())

    def write_by_hand(self, to: str, at: datetime) -> None:
        self._n += 1
        self._deliver(".Sent", (
            f"From: {ME}\r\nTo: {to}\r\nSubject: The mockups\r\n"
            f"Date: {email.utils.format_datetime(at)}\r\n"
            f"Message-ID: <hand{self._n}@analytical-engines.example>\r\n\r\n"
            "Here they are.\r\n").encode())

    def blocks(self) -> list[Block]:
        out = []
        for path in sorted(self.followups.glob("*.ics")):
            for ev in Calendar.from_ical(path.read_bytes()).walk("VEVENT"):
                out.append(Block(str(path), ev.decoded("dtstart").astimezone(UTC),
                                 ev.decoded("dtend").astimezone(UTC), str(ev.get("summary")),
                                 str(ev.get("description") or "")))
        return out

    def delete_block(self, block: Block) -> None:
        Path(block.ident).unlink()


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Run:
    timeline: list[Seen] = field(default_factory=list)
    drafts: dict[str, list[tuple[datetime, Draft]]] = field(default_factory=dict)  # by key
    blocks: list[tuple[datetime, Block]] = field(default_factory=list)
    reports: list[CycleReport] = field(default_factory=list)
    cycles: int = 0
    most_open: dict[str, int] = field(default_factory=dict)  # most drafts to one at a time
    last_cycle: datetime = START

    def of(self, key: str, what: str) -> list[Seen]:
        return [s for s in self.timeline if s.who == key and s.what == what]


def simulate(
    box: Mailbox, ledger: Ledger, cfg: Config, *, days: int = DAYS,
    people: list[Contact] | None = None, busy_days: tuple[datetime, ...] = (),
    on_cycle: Callable[[datetime, CycleReport], None] | None = None,
) -> Run:
    """Run the engine from START for `days`, as the daemon would wake (at each report's
    next_due, at least daily), with the scripted user acting at 17:00 UTC on working days."""
    people = people if people is not None else contacts()
    by_email = {c.person.email: c for c in people}
    for c in people:
        start = START + timedelta(days=c.day)
        box.add_meeting(c, start, start + timedelta(hours=1))
    for i, day in enumerate(busy_days):
        box.add_busy_day(f"ooo-{i}@sim.example", day)
    composer = Composer(cfg.user)
    run = Run()
    seen_drafts: set[str] = set()
    seen_blocks: set[tuple[datetime, str]] = set()
    touches: dict[str, int] = {}
    handled: set[str] = set()
    replies: list[tuple[datetime, Contact, Draft]] = []
    hand = sorted((START + timedelta(days=c.hand_mail_day), c) for c in people
                  if c.hand_mail_day is not None)
    now = START
    end = START + timedelta(days=days)
    while now < end:
        box.set_clock(now)
        report = run_cycle(cfg, ledger, box.account, composer, now)
        run.cycles += 1
        run.last_cycle = now
        run.reports.append(report)
        if on_cycle:
            on_cycle(now, report)
        open_now: dict[str, int] = {}
        for d in box.drafts():
            open_now[d.to] = open_now.get(d.to, 0) + 1
        for addr, n in open_now.items():
            key = by_email[addr].key
            run.most_open[key] = max(run.most_open.get(key, 0), n)
        for d in box.drafts():
            if d.message_id in seen_drafts:
                continue
            seen_drafts.add(d.message_id)
            c = by_email[d.to]
            touches[c.key] = touches.get(c.key, 0) + 1
            run.drafts.setdefault(c.key, []).append((now, d))
            run.timeline.append(Seen(now, c.key, "draft", f"#{touches[c.key]} {d.subject!r}"
                                     + (" (reply in thread)" if d.in_reply_to or d.thread
                                        else "")))
        for b in box.blocks():
            if (b.start, b.summary) in seen_blocks:
                continue
            seen_blocks.add((b.start, b.summary))
            run.blocks.append((now, b))
            named = [c for c in people if c.person.email in b.description]
            who = "+".join(c.key for c in named)  # a weekly batch names several
            what = "call block" if b.summary.startswith("Call ") else "block"
            minutes = int((b.end - b.start).total_seconds() // 60)
            run.timeline.append(Seen(now, who, what, f"{b.start:%a %d %b %H:%M} UTC, "
                                                     f"{minutes} min: {b.summary}"))
            if len(named) == 1 and named[0].delete_first_block \
                    and touches.get(who, 0) == 1:
                box.delete_block(b)
                run.timeline.append(Seen(now, who, "deleted block"))
        # The user's end of the working day: the Drafts folder, by the script.
        if now.weekday() < 5 and now.time() >= time(16, 0):
            for d in box.drafts():
                if d.message_id in handled:
                    continue
                c = by_email[d.to]
                n = len(run.drafts.get(c.key, []))
                action = c.actions.get(n, c.default)
                if action == "leave":
                    continue
                handled.add(d.message_id)
                if action == "send":
                    box.send(d, now)
                    run.timeline.append(Seen(now, c.key, "sent", f"#{n}"))
                    if n in c.reply_after:
                        replies.append((now + timedelta(days=c.reply_after[n]), c, d))
                else:
                    box.delete_draft(d)
                    run.timeline.append(Seen(now, c.key, "deleted draft", f"#{n}"))
        for when, c, d in [r for r in replies if r[0] <= now]:
            replies.remove((when, c, d))
            subject = d.subject if d.subject.lower().startswith("re:") else f"Re: {d.subject}"
            box.receive(c.person.email, subject, when, d.message_id, d.thread)
            run.timeline.append(Seen(when, c.key, "replied", subject))
        for when, c in [h for h in hand if h[0] <= now]:
            hand.remove((when, c))
            box.write_by_hand(c.person.email, when)
            run.timeline.append(Seen(when, c.key, "wrote by hand"))
        # The daemon's wake: the report's next_due, at least daily; the user's evening.
        evening = datetime.combine(now.date(), time(16, 0), tzinfo=UTC)
        if evening <= now:
            evening += timedelta(days=1)
        wake = min(t for t in (report.next_due, now + timedelta(days=1), evening,
                               *(r[0] for r in replies), *(h[0] for h in hand))
                   if t is not None and t > now)
        now = wake
    return run


def timeline_text(run: Run, keys: list[str]) -> str:
    lines = []
    for s in sorted(run.timeline, key=lambda s: s.at):
        if set(s.who.split("+")) & set(keys):
            day = (s.at - START).days
            lines.append(f"day {day:>3}  {s.at:%a %d %b}  {s.who:<10} {s.what:<13} {s.detail}")
    return "\n".join(lines)

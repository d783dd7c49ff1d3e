"""Builds the demo workspace: a calendar of meetings placed relative to now, a Maildir, an
address book, and the config that ties them together.

Every file is written with the libraries the product reads them with (icalendar, vobject,
the email package), so the demo exercises the real parsing paths.
"""

from __future__ import annotations

import mailbox
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from zoneinfo import ZoneInfo

import vobject
from icalendar import Calendar, Event, vCalAddress, vText

from followup.demo import ownership

USER_NAME = "Ada Lovelace"
USER_EMAIL = "ada@analytical-engines.example"
USER_ALIAS = "ada.lovelace@fastmail.example"
USER_DOMAIN = "analytical-engines.example"

ZOOM_BOILERPLATE = """
──────────
Ada Lovelace is inviting you to a scheduled Zoom meeting.

Join Zoom Meeting
https://us02web.zoom.us/j/81234567890?pwd=YWJjZGVmZ2hpams

Meeting ID: 812 3456 7890
Passcode: 417263

---

One tap mobile
+13462487799,,81234567890#,,,,*417263# US (Houston)
"""

TEAMS_BOILERPLATE = """
________________________________________________________________________________
Microsoft Teams meeting
Join on your computer, mobile app or room device
Click here to join the meeting<https://teams.microsoft.com/l/meetup-join/19%3ameeting_demo>
Meeting ID: 245 123 456 789
Passcode: aB3cD4
________________________________________________________________________________
"""


@dataclass(frozen=True)
class Person:
    """Someone on a demo invitation."""

    name: str | None
    email: str
    partstat: str = "ACCEPTED"
    cutype: str | None = None


ADA = Person(USER_NAME, USER_EMAIL)


def make_event(
    uid: str,
    title: str,
    start: datetime,
    end: datetime | None,
    people: list[Person],
    *,
    description: str = "",
    location: str = "",
    status: str | None = None,
    rrule: dict[str, object] | None = None,
) -> Calendar:
    cal = Calendar()
    cal.add("prodid", "-//followup//demo//EN")
    cal.add("version", "2.0")
    ev = Event()
    ev.add("uid", uid)
    ev.add("summary", title)
    ev.add("dtstamp", start)
    ev.add("dtstart", start)
    if end is not None:
        ev.add("dtend", end)
    if description:
        ev.add("description", description)
    if location:
        ev.add("location", location)
    if status:
        ev.add("status", status)
    if rrule:
        ev.add("rrule", rrule)
    organizer = vCalAddress(f"mailto:{ADA.email}")
    organizer.params["CN"] = vText(USER_NAME)
    ev.add("organizer", organizer)
    for p in [ADA, *people]:
        att = vCalAddress(f"mailto:{p.email}")
        if p.name:
            att.params["CN"] = vText(p.name)
        att.params["PARTSTAT"] = p.partstat
        att.params["ROLE"] = "REQ-PARTICIPANT"
        if p.cutype:
            att.params["CUTYPE"] = p.cutype
        ev.add("attendee", att)
    cal.add_component(ev)
    cal.add_missing_timezones()  # VTIMEZONE for every TZID used, as real clients export
    return cal


def _at(day: datetime, hour: int, minute: int = 0) -> datetime:
    return day.replace(hour=hour, minute=minute, second=0, microsecond=0)


def _meetings(now: datetime) -> dict[str, Calendar]:
    """The demo's calendar, relative to `now` (aware, in the user's zone)."""
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)
    coffee_end = (now - timedelta(hours=1)).replace(second=0, microsecond=0)
    cals: dict[str, Calendar] = {}
    cals["coffee-jane"] = make_event(
        "demo-coffee-jane@analytical-engines.example",
        "Coffee with Jane Doe",
        coffee_end - timedelta(minutes=45),
        coffee_end,
        [Person("Jane Doe", "jane.doe@acme-robotics.example")],
        location="Blue Bottle Coffee, 66 Mint St, San Francisco",
        # Notes as people write them: private judgement beside what may be shared. Only
        # the "> " line and the promises reach the draft; all of it goes on the block.
        description=(
            "Jane runs supply chain at Acme Robotics; they struggle to calibrate the "
            "sensors on their new arm.\n"
            "Seemed wary of small vendors - lead with the Siemens reference, don't discount.\n"
            "> Loved hearing how your team rebuilt the calibration rig in a weekend.\n"
            "Promised: send her the Kalman filter article, and introduce her to Charles "
            "Babbage (he solved the same problem last year).\n"
            "She is at the Robotics Summit in two weeks."
        ),
    )
    cals["lunch-globex"] = make_event(
        "demo-lunch-globex@analytical-engines.example",
        "Lunch: Globex partnership",
        _at(yesterday, 12, 30),
        _at(yesterday, 13, 45),
        [
            Person("Hank Scorpio", "hank@globex.example"),
            Person("SMITH, JOHN", "jsmith@globex.example"),
        ],
        location="Zuni Café",
        description=(
            "Hank wants a pilot of our scheduling engine for their Cypress Creek plant; "
            "John owns the budget and asked for a one-page summary of the pilot."
        ),
    )
    cals["colleague"] = make_event(
        "demo-colleague@analytical-engines.example",
        "Roadmap with Charles",
        _at(yesterday, 10),
        _at(yesterday, 11),
        [Person("Charles Babbage", "charles@analytical-engines.example")],
    )
    cals["design-review"] = make_event(
        "demo-design-review@analytical-engines.example",
        "Design review: compiler",
        _at(yesterday, 15),
        _at(yesterday, 16),
        [
            Person("Grace Hopper", "grace@cobol.example"),
            Person("Board Room 3", "boardroom3@resource.calendar.google.com", cutype="ROOM"),
        ],
        description="Grace suggested we write the manual before the code. Send her our draft.",
    )
    cals["webinar"] = make_event(
        "demo-webinar@analytical-engines.example",
        "Webinar: The Future of Compute",
        _at(yesterday, 17),
        _at(yesterday, 18),
        [Person(f"Attendee {i}", f"attendee{i}@webinar-audience.example") for i in range(40)],
    )
    cals["initech"] = make_event(
        "demo-initech@analytical-engines.example",
        "Intro call: Initech",
        now - timedelta(hours=5),
        now - timedelta(hours=4, minutes=30),
        [
            Person("Peter Gibbons", "peter@initech.example"),
            Person("Bill Lumbergh", "bill@initech.example", partstat="DECLINED"),
            Person("Milton Waddams", "milton@initech.example"),
        ],
        location="Microsoft Teams Meeting",
        description="Peter wants a demo for his team next week." + TEAMS_BOILERPLATE,
    )
    cals["cancelled"] = make_event(
        "demo-cancelled@analytical-engines.example",
        "Catch-up with Sal (cancelled)",
        _at(yesterday, 9),
        _at(yesterday, 9, 30),
        [Person("Sal Esperson", "sal@esperson-consulting.example")],
        status="CANCELLED",
    )
    # A series that began weeks ago: its occurrence yesterday is not meeting anyone new.
    first_mentoring = _at(yesterday - timedelta(weeks=5), 8)
    cals["mentoring"] = make_event(
        "demo-mentoring@analytical-engines.example",
        "Weekly mentoring with Alan",
        first_mentoring,
        first_mentoring + timedelta(minutes=30),
        [Person("Alan Turing", "alan@bletchley.example")],
        rrule={"FREQ": "WEEKLY", "COUNT": 12},
        description="Mentoring." + ZOOM_BOILERPLATE,
    )
    cals["future"] = make_event(
        "demo-future@analytical-engines.example",
        "Quarterly sync with Wonka Industries",
        _at(today + timedelta(days=2), 14),
        _at(today + timedelta(days=2), 15),
        [Person("Willy Wonka", "willy@wonka.example")],
    )
    cals["noreply"] = make_event(
        "demo-noreply@analytical-engines.example",
        "Product briefing",
        _at(yesterday, 16, 30),
        _at(yesterday, 17),
        [
            Person("Linus Torvalds", "linus@kernel-hackers.example"),
            Person("Calendar notifications", "no-reply@scheduler.example"),
        ],
        description=ZOOM_BOILERPLATE,
    )
    return cals


def _invitation_mail(now: datetime) -> EmailMessage:
    """An Outlook-style invitation that only exists in the inbox, not in the calendar."""
    start = (now - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    cal = make_event(
        "040000008200E00074C5B7101A82E00800000000DEMO0001",
        "Breakfast with Marie",
        start,
        start + timedelta(hours=1),
        [Person("Marie Curie", "marie@radium-institute.example")],
        location="Café de Flore",
        description="Marie is looking for someone to model decay rates. Send her our paper.",
    )
    cal.add("method", "REQUEST")
    msg = EmailMessage()
    msg["From"] = "Marie Curie <marie@radium-institute.example>"
    msg["To"] = f"{USER_NAME} <{USER_EMAIL}>"
    msg["Subject"] = "Invitation: Breakfast with Marie"
    msg["Date"] = format_datetime(start - timedelta(days=2))
    msg["Message-ID"] = make_msgid(domain="radium-institute.example")
    msg.set_content("Marie Curie has invited you to Breakfast with Marie.")
    msg.add_attachment(
        cal.to_ical(), maintype="text", subtype="calendar", params={"method": "REQUEST"},
        filename="invite.ics",
    )
    return msg


def _sent_mail(now: datetime) -> EmailMessage:
    """The user already wrote to Peter after the Initech call: no draft for him."""
    msg = EmailMessage()
    msg["From"] = f"{USER_NAME} <{USER_EMAIL}>"
    msg["To"] = "Peter Gibbons <peter@initech.example>"
    msg["Subject"] = "Demo next week"
    msg["Date"] = format_datetime(now - timedelta(hours=4))
    msg["Message-ID"] = make_msgid(domain="analytical-engines.example")
    msg.set_content("Hi Peter, as promised: Tuesday 10:00 works for the demo. Ada")
    return msg


def _existing_contact() -> bytes:
    """Grace is already in the address book: her card gains a note, nothing else changes."""
    card = vobject.vCard()
    card.add("version").value = "3.0"
    card.add("uid").value = "grace-hopper-existing"
    card.add("fn").value = "Grace Hopper"
    card.add("n").value = vobject.vcard.Name(family="Hopper", given="Grace")
    email = card.add("email")
    email.value = "grace@cobol.example"
    email.type_param = "WORK"
    card.add("tel").value = "+1 555 0100"
    card.add("note").value = "Rear Admiral. Knows everything about compilers."
    return str(card.serialize()).encode("utf-8")


CONFIG_TEMPLATE = """\
# The demo's own config: `followup run --once --config {dir}/followup.toml` re-runs on it.
# Relative paths are relative to this file.
state_dir = "state"

[user]
name = "{name}"
addresses = ["{email}", "{alias}"]
domains = ["{domain}"]
timezone = "{tz}"
intro = "I build scheduling software for factories at Analytical Engines."
signature = "Ada"

[[accounts]]
kind = "local"
name = "demo"
calendars = ["calendar"]
maildir = "Maildir"
invitations_folders = [""]
received_folders = [""]
sent_folders = [".Sent"]
drafts_folder = ".Drafts"
contacts = "contacts"
followups = "followups"
"""

KHAL_CONF = """\
[calendars]
[[meetings]]
path = {dir}/calendar
[[followups]]
path = {dir}/followups
color = yellow

[locale]
timeformat = %H:%M
dateformat = %Y-%m-%d
longdateformat = %Y-%m-%d
datetimeformat = %Y-%m-%d %H:%M
longdatetimeformat = %Y-%m-%d %H:%M
local_timezone = {tz}
default_timezone = {tz}
"""

KHARD_CONF = """\
[addressbooks]
[[demo]]
path = {dir}/contacts

[general]
default_action = list
"""


MUTTRC = """\
# The demo's mailbox in mutt: mutt -F {dir}/muttrc
# followup's drafts are in the Drafts folder, which mutt calls "postponed":
# press R to recall one, edit it, and send it (or not).
set mbox_type = Maildir
set folder = "{dir}/Maildir"
set spoolfile = "{dir}/Maildir"
set record = "{dir}/Maildir/.Sent"
set postponed = "{dir}/Maildir/.Drafts"
set from = "{name} <{email}>"
set use_from = yes
mailboxes "{dir}/Maildir" "{dir}/Maildir/.Sent" "{dir}/Maildir/.Drafts"
"""


@dataclass
class Workspace:
    """A demo workspace as built: its config, and the user's files it left alone."""

    config: Path
    kept: list[str]  # demo files the user changed since the last demo: not replaced


def build_workspace(directory: Path, now: datetime, tz: ZoneInfo) -> Path:
    """Create (or re-create) the demo workspace in `directory`. Returns its config path."""
    return prepare_workspace(directory, now, tz).config


def prepare_workspace(directory: Path, now: datetime, tz: ZoneInfo) -> Workspace:
    """Create the demo workspace in `directory`, or renew one an earlier demo made.

    Refuses a non-empty folder that is not a demo workspace. In a demo workspace only the
    demo's own files are replaced (see ownership): what the user added stays, and so does a
    demo file the user changed.
    """
    kept: list[str] = []
    if directory.exists() and any(directory.iterdir()):
        if not ownership.is_workspace(directory):
            raise FileExistsError(
                f"{directory} exists and is not a followup demo workspace; "
                "pick another --workdir"
            )
        kept = ownership.clear(directory)
    directory.mkdir(parents=True, exist_ok=True)
    local_now = now.astimezone(tz)
    written: dict[str, str] = {}

    def put(rel: str, data: bytes) -> None:
        path = directory / rel
        if path.exists() or path.is_symlink():  # the user's now: leave it
            if rel not in kept:
                kept.append(rel)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written[rel] = ownership.snapshot_one(path)

    for name, cal in _meetings(local_now).items():
        put(f"calendar/{name}.ics", cal.to_ical())
    (directory / "followups").mkdir(exist_ok=True)
    put("contacts/grace-hopper.vcf", _existing_contact())

    inbox = mailbox.Maildir(directory / "Maildir", create=True)
    key = inbox.add(mailbox.MaildirMessage(_invitation_mail(local_now).as_bytes()))
    written[f"Maildir/new/{key}"] = ownership.snapshot_one(directory / "Maildir" / "new" / key)
    sent = inbox.add_folder("Sent")
    key = sent.add(mailbox.MaildirMessage(_sent_mail(local_now).as_bytes()))
    written[f"Maildir/.Sent/new/{key}"] = ownership.snapshot_one(
        directory / "Maildir" / ".Sent" / "new" / key)
    inbox.add_folder("Drafts")

    fmt = {
        "dir": directory.resolve(),
        "name": USER_NAME,
        "email": USER_EMAIL,
        "alias": USER_ALIAS,
        "domain": USER_DOMAIN,
        "tz": tz.key,
    }
    put("followup.toml", CONFIG_TEMPLATE.format(**fmt).encode())
    put("khal.conf", KHAL_CONF.format(**fmt).encode())
    put("khard.conf", KHARD_CONF.format(**fmt).encode())
    put("muttrc", MUTTRC.format(**fmt).encode())
    ownership.save(directory, written)
    return Workspace(directory / "followup.toml", sorted(kept))

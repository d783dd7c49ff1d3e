"""Hostile folders and servers: what a careless user or an attacker can leave in a vdir, a
Maildir or an address book, and calendar URLs that stall, balloon or downgrade.

Each entry that cannot be used is skipped with a reason that quotes none of its content,
and everything beside it still counts.
"""

from __future__ import annotations

import http.server
import multiprocessing
import os
import shutil
import ssl
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests
import structlog
import trustme

from followup import keys
from followup.errors import EnvironmentFailure, InputError
from followup.model import ContactPayload, DraftPayload, Interval, Meeting, WriteResult
from followup.protocols import MeetingSource
from followup.providers.local.calendars import CalendarSource
from followup.providers.local.files import MAX_ICS_BYTES, MAX_MAIL_BYTES
from followup.providers.local.locations import UrlLocation, url_label

from .conftest import DATA, UTC_ZONE, Home

T0 = datetime(2019, 3, 1, tzinfo=UTC)
WINDOW = Interval(T0 - timedelta(days=3), T0 + timedelta(days=14))
SECRET = "root:x:0:0:SECRET-CONTENT"
NOBODY = 65534


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file outside every configured folder, as /etc/passwd or ~/.netrc would be."""
    path = tmp_path / "elsewhere" / "passwd"
    path.parent.mkdir()
    path.write_text(f"{SECRET}\nBEGIN:VCALENDAR\n")
    return path


def meeting(home: Home, uid: str, hours: int = 0) -> None:
    start = T0 + timedelta(hours=hours)
    home.write_meeting(Meeting(uid=uid, start=start, end=start + timedelta(hours=1), title=uid))


def sync(source: MeetingSource) -> tuple[set[str], list[str], str]:
    """Titles found, errors reported, and everything logged (as text)."""
    with structlog.testing.capture_logs() as logs:
        changes = source.changes(None, WINDOW)
    return {m.title for m in changes.upserts}, changes.errors, repr(logs)


# --- vdir calendars ----------------------------------------------------------------------


def test_symlink_out_of_the_calendar_folder_is_not_followed(home: Home, outside: Path) -> None:
    meeting(home, "kept")
    (home.calendar / "evil.ics").symlink_to(outside)
    (home.calendar / "linked-sub").symlink_to(outside.parent, target_is_directory=True)
    (home.calendar / ".store").mkdir()  # a link inside the folder is fine
    shutil.copy(DATA / "recurring-ical-events" / "machbar_16_feb_2019.ics",
                home.calendar / ".store" / "real.ics")
    (home.calendar / "inside.ics").symlink_to(home.calendar / ".store" / "real.ics")

    titles, errors, logs = sync(home.account().sources[0])
    assert "kept" in titles and "Montessori Schulklasse" in titles
    [evil] = [e for e in errors if "evil.ics" in e]
    assert "outside the folder" in evil and "not followed" in evil
    [sub] = [e for e in errors if "linked-sub" in e]
    assert "outside the folder" in sub
    for text in (repr(errors), logs):
        assert "SECRET" not in text and str(outside) not in text


def test_symlink_loops_are_skipped_and_the_folder_still_lists(home: Home) -> None:
    meeting(home, "kept")
    (home.calendar / "self.ics").symlink_to(home.calendar / "self.ics")
    (home.calendar / "a.ics").symlink_to(home.calendar / "b.ics")
    (home.calendar / "b.ics").symlink_to(home.calendar / "a.ics")
    (home.calendar / "dir-loop").symlink_to(home.calendar / "dir-loop")
    (home.calendar / "dangling.ics").symlink_to(home.calendar / "gone.ics")
    source = home.account().sources[0]
    changes = source.changes(None, WINDOW)
    assert [m.title for m in changes.upserts] == ["kept"]
    for name in ("self.ics", "a.ics", "b.ics"):
        [error] = [e for e in changes.errors if f"/{name}:" in e]
        assert "symlink loop" in error
    assert any("dangling.ics" in e and "symlink to nothing" in e for e in changes.errors)
    # Busy time reads the same folder: the loops are skipped there too.
    assert len(home.account().availability.busy(WINDOW)) == 1


def test_oversized_ics_is_refused_before_it_is_read(home: Home) -> None:
    with (home.calendar / "huge.ics").open("wb") as f:  # sparse: instant, no disk used
        f.write(b"BEGIN:VCALENDAR\r\n")
        f.truncate(MAX_ICS_BYTES + 1)
    source = home.account().sources[0]
    tracemalloc.start()
    started = time.perf_counter()
    try:
        changes = source.changes(None, WINDOW)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 2.0
    assert peak < MAX_ICS_BYTES // 10  # the file was never read into memory
    [error] = changes.errors
    assert "huge.ics" in error and "over the 10 MB limit" in error
    meeting(home, "kept")  # and it stops nothing beside it
    assert [m.title for m in source.changes(None, WINDOW).upserts] == ["kept"]


def test_oversized_mail_is_refused_before_it_is_read(home: Home) -> None:
    with (home.maildir / "new" / "1.huge").open("wb") as f:
        f.write(invitation("huge@x"))
        f.truncate(MAX_MAIL_BYTES + 1)
    source = next(s for s in home.account().sources if s.name == "mail:INBOX")
    tracemalloc.start()
    started = time.perf_counter()
    try:
        changes = source.changes(None, WINDOW)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 2.0 and peak < MAX_MAIL_BYTES // 10
    [error] = changes.errors
    assert "1.huge" in error and "over the 25 MB limit" in error
    home.deliver(invitation("good@x"), name="2.good")  # and the folder goes on
    assert [m.uid for m in source.changes(changes.cursor, WINDOW).upserts] == ["good@x"]


def test_a_missing_calendar_folder_is_an_error_not_an_empty_calendar(home: Home) -> None:
    source = home.account(calendars=[str(home.root / "calendars" / "wrok")]).sources[0]
    with pytest.raises(InputError, match=r"wrok: does not exist \(check the `calendars`"):
        source.changes(None, WINDOW)


# --- permissions: the tests may run as root, who reads anything; so as `nobody` ------------


def _as_nobody(fn: Callable[..., Any], *args: Any) -> Any:
    if os.geteuid() != 0:
        return fn(*args)
    with multiprocessing.get_context("fork").Pool(1, initializer=_drop_privileges) as pool:
        return pool.apply(fn, args)


def _drop_privileges() -> None:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


@pytest.fixture
def open_home() -> Iterator[Home]:
    """A home that `nobody` may read and write, outside root's private pytest folder."""
    root = Path(tempfile.mkdtemp(prefix="followup-hostile-"))
    root.chmod(0o755)
    try:
        yield Home(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _give_to_nobody(root: Path) -> None:
    if os.geteuid() != 0:
        return
    for path in [root, *root.rglob("*")]:
        os.chown(path, NOBODY, NOBODY, follow_symlinks=False)


def _calendar_sync(root: str) -> tuple[list[str], list[str]]:
    source = _reopen(Path(root)).sources[0]
    changes = source.changes(None, WINDOW)
    return sorted(m.title for m in changes.upserts), changes.errors


def _reopen(root: Path) -> Any:
    from followup.config import Config, LocalAccount, UserConfig
    from followup.providers.local import open_local_account

    cfg = LocalAccount(calendars=[str(root / "calendars" / "work")],
                       maildir=str(root / "Maildir"), contacts=str(root / "contacts"),
                       followups=str(root / "calendars" / "followups"))
    config = Config(user=UserConfig(addresses=["me@example.com"], timezone="Europe/Berlin"),
                    state_dir=str(root / "state"), accounts=[cfg])
    return open_local_account(cfg, config, clock=lambda: T0)


def test_unreadable_ics_is_skipped_and_the_account_goes_on(open_home: Home) -> None:
    meeting(open_home, "kept")
    locked = open_home.calendar / "locked.ics"
    meeting(open_home, "locked")
    (open_home.calendar / "locked.ics").unlink(missing_ok=True)
    (open_home.calendar / "locked.ics").write_text("BEGIN:VCALENDAR\r\n")
    _give_to_nobody(open_home.root)
    locked.chmod(0)
    titles, errors = _as_nobody(_calendar_sync, str(open_home.root))
    assert titles == ["kept"]
    [error] = [e for e in errors if "locked.ics" in e]
    assert "cannot read (Permission denied)" in error


def _invitations(root: str) -> tuple[list[str], list[str]]:
    source = next(s for s in _reopen(Path(root)).sources if s.name == "mail:INBOX")
    changes = source.changes(None, WINDOW)
    return sorted(m.uid for m in changes.upserts), changes.errors


def invitation(uid: str, *, sender: str = "boss@example.org") -> bytes:
    return (f"From: {sender}\r\nTo: me@example.com\r\nSubject: {uid}\r\n"
            "Content-Type: text/calendar; method=REQUEST\r\n\r\n"
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:20190201T000000Z\r\nDTSTART:20190302T100000Z\r\n"
            "DTEND:20190302T110000Z\r\nORGANIZER:mailto:boss@example.org\r\n"
            "ATTENDEE;PARTSTAT=ACCEPTED:mailto:me@example.com\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n").encode()


def test_unreadable_looping_outside_and_huge_messages_are_skipped(open_home: Home) -> None:
    outside = open_home.root / "passwd"
    outside.write_text(SECRET)
    open_home.deliver(invitation("good@x"), name="1.good")
    locked = open_home.deliver(invitation("locked@x"), name="2.locked")
    (open_home.maildir / "new" / "3.outside").symlink_to(outside)
    (open_home.maildir / "new" / "4.loop").symlink_to(open_home.maildir / "new" / "4.loop")
    with (open_home.maildir / "new" / "5.huge").open("wb") as f:
        f.write(invitation("huge@x"))
        f.truncate(MAX_MAIL_BYTES + 1)
    _give_to_nobody(open_home.root)
    locked.chmod(0)
    uids, errors = _as_nobody(_invitations, str(open_home.root))
    assert uids == ["good@x"]
    reasons = {e.split(": ", 1)[0].rsplit("/", 1)[-1]: e for e in errors}
    assert "Permission denied" in reasons["2.locked"]
    assert "outside the folder" in reasons["3.outside"]
    assert "symlink loop" in reasons["4.loop"]
    assert "over the 25 MB limit" in reasons["5.huge"]
    assert "SECRET" not in repr(errors)


def contact(note: str) -> ContactPayload:
    return ContactPayload(email="jane@example.org", display_name="Jane", given_name="Jane",
                          family_name=None, organization=None, note=note)


def _annotate(root: str) -> tuple[str, str]:
    contacts = _reopen(Path(root)).contacts
    key = keys.touch_key("local", "uid@x", None, "jane@example.org", 0, "contact")
    result = contacts.ensure(key, contact("Met at the review"), recovering=False)
    return result.outcome.value, result.remote_id or ""


def test_one_unreadable_or_hostile_card_does_not_stop_contact_writes(open_home: Home) -> None:
    outside = open_home.root / "passwd"
    outside.write_text(SECRET)
    card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:{n}\r\nEMAIL:{e}\r\nEND:VCARD\r\n"
    (open_home.contacts / "jane.vcf").write_text(card.format(n="Jane", e="jane@example.org"))
    (open_home.contacts / "locked.vcf").write_text(card.format(n="Lock", e="lock@example.org"))
    (open_home.contacts / "passwd.vcf").symlink_to(outside)
    (open_home.contacts / "loop.vcf").symlink_to(open_home.contacts / "loop.vcf")
    _give_to_nobody(open_home.root)
    (open_home.contacts / "locked.vcf").chmod(0)
    with structlog.testing.capture_logs() as logs:
        outcome, name = _as_nobody(_annotate, str(open_home.root))
    assert (outcome, name) == ("annotated", "jane.vcf")
    assert "Met at the review" in (open_home.contacts / "jane.vcf").read_text()
    assert "SECRET" not in repr(logs)


# --- folders that are not there ----------------------------------------------------------


def test_configured_folders_are_never_created(home: Home) -> None:
    shutil.rmtree(home.maildir)
    home.contacts.rmdir()
    home.followups.rmdir()
    account = home.account()
    key = keys.touch_key("local", "uid@x", None, "jane@example.org", 0, "draft")
    with pytest.raises(InputError, match=r"Maildir .*Maildir does not exist"):
        next(s for s in account.sources if s.name == "mail:INBOX").changes(None, WINDOW)
    payload = DraftPayload(to=(("Jane", "jane@example.org"),), subject="Hi", body="Hi\n",
                           message_id=keys.message_id(key), from_addr=("Me", "me@example.com"))
    with pytest.raises(EnvironmentFailure, match=r"Maildir .* does not exist"):
        account.drafts.ensure(key, payload, recovering=False)
    with pytest.raises(EnvironmentFailure, match=r"address book .* does not exist"):
        account.contacts.ensure(key, contact("Met"), recovering=False)
    from followup.model import BlockPayload

    block = BlockPayload("Follow up", "", T0, T0 + timedelta(minutes=15))
    with pytest.raises(EnvironmentFailure, match=r"calendar folder .* does not exist"):
        account.blocks.ensure(key, block, recovering=False)
    assert not home.maildir.exists() and not home.contacts.exists()
    assert not home.followups.exists()


def test_an_unmounted_folder_never_reads_as_deleted_by_the_user(home: Home) -> None:
    from followup.model import BlockPayload, RemoteState

    account = home.account()
    key = keys.touch_key("local", "uid@x", None, "jane@example.org", 0, "draft")
    draft = DraftPayload(to=(("Jane", "jane@example.org"),), subject="Hi", body="Hi\n",
                         message_id=keys.message_id(key), from_addr=("Me", "me@example.com"))
    written: list[tuple[Any, WriteResult, Path]] = [
        (account.drafts, account.drafts.ensure(key, draft, recovering=False), home.maildir),
        (account.contacts, account.contacts.ensure(key, contact("Met"), recovering=False),
         home.contacts),
        (account.blocks, account.blocks.ensure(
            key, BlockPayload("Follow up", "", T0, T0 + timedelta(minutes=15)),
            recovering=False), home.followups),
    ]
    for target, result, folder in written:
        away = folder.with_name(folder.name + ".unmounted")
        folder.rename(away)
        with pytest.raises(EnvironmentFailure, match="does not exist"):
            target.state(key, result.remote_id, result.fingerprint)
        with pytest.raises(EnvironmentFailure, match="does not exist"):
            target.remove(key, result.remote_id, result.fingerprint)
        away.rename(folder)
        assert target.state(key, result.remote_id, result.fingerprint) is RemoteState.PRESENT


def test_default_folders_under_the_state_dir_are_created(home: Home) -> None:
    account = home.account(maildir=None, contacts=None, followups=None)
    key = keys.touch_key("local", "uid@x", None, "jane@example.org", 0, "draft")
    payload = DraftPayload(to=(("Jane", "jane@example.org"),), subject="Hi", body="Hi\n",
                           message_id=keys.message_id(key), from_addr=("Me", "me@example.com"))
    assert account.drafts.ensure(key, payload, recovering=False).outcome.value == "created"


def test_maildir_drafts_have_lf_line_endings(home: Home) -> None:
    key = keys.touch_key("local", "uid@x", None, "jane@example.org", 0, "draft")
    payload = DraftPayload(to=(("Jane", "jane@example.org"),), subject="Hi",
                           body="Hi Jane,\n\nGood to meet you.\n",
                           message_id=keys.message_id(key), from_addr=("Me", "me@example.com"))
    result = home.account().drafts.ensure(key, payload, recovering=False)
    data = (home.maildir / ".Drafts" / "cur" / str(result.remote_id)).read_bytes()
    assert b"\r" not in data and b"\nSubject: Hi\n" in data
    again = home.account().drafts.ensure(key, payload, recovering=True)
    assert again.fingerprint == result.fingerprint  # found as written


# --- calendar URLs -----------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    mode: ClassVar[str] = "trickle"
    target: ClassVar[str] = ""
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        if self.mode == "redirect":
            self.send_response(302)
            self.send_header("Location", self.target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.mode == "down":
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/calendar")
        if self.mode == "trickle":  # 70 bytes at a time, each well within a read timeout
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            chunks, pause = 1000, 0.2
            body = b"X" * 70
        else:  # "endless": no length, as fast as possible
            self.end_headers()
            chunks, pause = 10**6, 0.0
            body = b"X" * 65536
        try:
            for _ in range(chunks):
                self.wfile.write(body)
                self.wfile.flush()
                time.sleep(pause)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args: object) -> None:
        pass


def _serve(mode: str, context: ssl.SSLContext | None = None) -> tuple[Any, type[_Handler]]:
    handler = type("H", (_Handler,), {"mode": mode, "hits": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    if context is not None:
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, handler


@pytest.fixture
def servers() -> Iterator[Callable[..., tuple[Any, type[_Handler]]]]:
    started: list[Any] = []

    def start(mode: str, context: ssl.SSLContext | None = None) -> tuple[Any, type[_Handler]]:
        httpd, handler = _serve(mode, context)
        started.append(httpd)
        return httpd, handler

    yield start
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()


def test_a_trickling_server_cannot_hold_a_cycle(servers) -> None:  # type: ignore[no-untyped-def]
    httpd, _ = servers("trickle")
    url = f"http://127.0.0.1:{httpd.server_address[1]}/private-token/basic.ics"
    source = CalendarSource(UrlLocation(url, deadline=1.0), UTC_ZONE)
    started = time.perf_counter()
    with pytest.raises(InputError) as raised:
        source.changes(None, WINDOW)
    assert time.perf_counter() - started < 3.0
    error = str(raised.value)
    assert "/…/basic.ics#" in error and "private-token" not in error
    assert "not complete within 1 s" in error


def test_an_endless_body_stops_at_the_size_cap(servers) -> None:  # type: ignore[no-untyped-def]
    httpd, _ = servers("endless")
    location = UrlLocation(f"http://127.0.0.1:{httpd.server_address[1]}/cal.ics",
                           max_bytes=1024 * 1024)
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="larger than 1048576 bytes"):
            location.fetch()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024


def test_https_to_http_redirect_is_refused(servers, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    plain, plain_handler = servers("down")
    secure, secure_handler = servers("redirect", server_context)
    secure_handler.target = f"http://127.0.0.1:{plain.server_address[1]}/cal.ics"
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    session = requests.Session()
    session.verify = str(ca_file)
    session.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would win
    location = UrlLocation(f"https://127.0.0.1:{secure.server_address[1]}/cal.ics?token=abc",
                           session=session)
    with pytest.raises(InputError, match="redirected from https to http; refused"):
        location.fetch()
    assert secure_handler.hits and plain_handler.hits == []  # nothing went out in the clear


def test_secret_parts_of_a_url_never_reach_errors_or_logs(servers) -> None:  # type: ignore[no-untyped-def]
    httpd, _ = servers("down")
    port = httpd.server_address[1]
    url = f"http://alice:hunter2@127.0.0.1:{port}/private-s3cr3t/basic.ics?token=t0k3n"
    source = CalendarSource(UrlLocation(url), UTC_ZONE)
    with structlog.testing.capture_logs() as logs, pytest.raises(InputError) as raised:
        source.changes(None, WINDOW)
    shown = str(raised.value) + repr(logs) + source.name
    assert f"http://127.0.0.1:{port}/…/basic.ics#" in shown
    for secret in ("alice", "hunter2", "s3cr3t", "t0k3n"):
        assert secret not in shown
    assert url_label(url).startswith(f"http://127.0.0.1:{port}/…/basic.ics#")


def test_run_once_with_a_misspelled_maildir_exits_1_and_names_it(tmp_path: Path) -> None:
    import io

    from followup.cli import main
    from followup.demo.workspace import build_workspace

    config = build_workspace(tmp_path / "ws", datetime.now(UTC), UTC_ZONE)
    config.write_text(config.read_text().replace('maildir = "Maildir"', 'maildir = "Mialdir"'))
    out = io.StringIO()
    rc = main(["--log-format", "json", "run", "--once", "--config", str(config)], out=out)
    assert rc == 1, out.getvalue()
    assert "Mialdir does not exist" in out.getvalue()
    assert not (tmp_path / "ws" / "Mialdir").exists()  # never created where no client looks


def test_doctor_names_a_calendar_url_by_its_host_only(home: Home) -> None:
    from followup.service.doctor import check_clock

    url = "http://alice:hunter2@127.0.0.1:9/private-s3cr3t/basic.ics?token=t0k3n"
    _, config = home.config(calendars=[url])
    shown = " ".join(f"{c.what} {c.fix}" for c in check_clock(config))
    assert "127.0.0.1:9" in shown
    for secret in ("alice", "hunter2", "s3cr3t", "t0k3n"):
        assert secret not in shown

"""Helpers for company mode's tests: local-file accounts, worker processes, checks."""

from __future__ import annotations

import mailbox
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from followup.company.crypto import KEY_ENV
from followup.demo.workspace import ADA, Person, make_event
from followup.ledger.connect import make_engine

TENANT_SETTINGS = {"user": {"name": "Ada Lovelace", "addresses": [ADA.email],
                            "timezone": "UTC"}}


@dataclass
class Mailbox:
    """One local account's folders: what the user sees."""

    root: Path
    name: str

    @property
    def calendar(self) -> Path:
        return self.root / "calendar"

    def config(self) -> dict[str, Any]:
        return {"kind": "local", "name": self.name, "calendars": [str(self.calendar)],
                "maildir": str(self.root / "Maildir"), "contacts": str(self.root / "contacts"),
                "followups": str(self.root / "followups")}

    def add_meeting(self, uid: str, end: datetime, people: list[Person]) -> None:
        start = end - timedelta(minutes=45)
        ev = make_event(f"{uid}@{self.name}.example", f"Meeting {uid}", start, end, people,
                        description=f"We talked about {uid}.")
        (self.calendar / f"{uid}.ics").write_bytes(ev.to_ical())

    def objects(self) -> dict[str, int]:
        drafts = mailbox.Maildir(self.root / "Maildir" / ".Drafts", create=False)
        return {"contact": len(list((self.root / "contacts").glob("*.vcf"))),
                "draft": len(list(drafts.keys())),
                "block": len(list((self.root / "followups").glob("*.ics")))}


def make_mailbox(root: Path, name: str, now: datetime, meetings: int = 2) -> Mailbox:
    box = Mailbox(root / name, name)
    box.calendar.mkdir(parents=True)
    for d in ("contacts", "followups"):
        (box.root / d).mkdir()
    md = mailbox.Maildir(box.root / "Maildir", create=True)
    md.add_folder("Sent")
    md.add_folder("Drafts")
    for i in range(meetings):
        people = [Person(f"Guest {i}-{j}", f"guest{i}-{j}@firm{i}.example") for j in range(2)]
        box.add_meeting(f"m{i}", now - timedelta(hours=i + 1), people)
    return box


def ledger_writes(url: str, account: str) -> dict[str, dict[str, int]]:
    """{kind: {state: count}} of the account's writes in the ledger."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            rows = conn.execute(text(
                "SELECT kind, state, count(*) FROM writes WHERE account = :a "
                "GROUP BY kind, state"), {"a": account}).all()
    finally:
        engine.dispose()
    found: dict[str, dict[str, int]] = {}
    for kind, state, n in rows:
        found.setdefault(kind, {})[state] = n
    return found


def assert_exactly_once(url: str, box: Mailbox) -> None:
    """Every write is done, and the user sees each object once: nothing lost, nothing twice."""
    writes = ledger_writes(url, box.name)
    assert writes, "no writes were planned"
    assert all(set(states) == {"done"} for states in writes.values()), writes
    assert box.objects() == {k: writes.get(k, {}).get("done", 0)
                             for k in ("contact", "draft", "block")}, writes


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def start_worker(url: str, key: str, *, kill_at: str | None = None,
                 log: Path | None = None, extra: Sequence[str] = ()) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "FOLLOWUP_TEST_KILL_AT"}
    env[KEY_ENV] = key
    if kill_at:
        env["FOLLOWUP_TEST_KILL_AT"] = kill_at
    cmd = [sys.executable, "-m", "followup", "--log-format", "json", "worker",
           "--database", url, "--concurrency", "2", "--lease-seconds", "4",
           "--stalled-seconds", "2", "--periodic-seconds", "1", *extra]
    if log is None:
        return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.STDOUT)
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def now_utc() -> datetime:
    return datetime.now(UTC)

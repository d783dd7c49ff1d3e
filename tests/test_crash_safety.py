"""Exactly once, for real: the `followup` process is SIGKILLed at every write step in turn and
restarted; afterwards every contact, draft and block exists exactly once.

The kill comes from the process itself at a named point (FOLLOWUP_TEST_KILL_AT, see
followup.engine.apply), so each step is hit deterministically; it is a real SIGKILL of the
real process: no cleanup, no flush, no atexit.
"""

from __future__ import annotations

import json
import mailbox
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import getaddresses
from pathlib import Path

import pytest
import vobject

from followup.demo.workspace import ADA, Person, make_event

pytestmark = pytest.mark.slow

CONFIG = """\
state_dir = "state"
[user]
name = "Ada Lovelace"
addresses = ["{me}"]
timezone = "UTC"
[[accounts]]
kind = "local"
name = "crash"
calendars = ["calendar"]
maildir = "Maildir"
contacts = "contacts"
followups = "followups"
"""


def _workspace(root: Path, now: datetime) -> Path:
    cal = root / "calendar"
    cal.mkdir(parents=True)
    end = now - timedelta(hours=1)
    meetings = {
        "one": [Person("Jane Doe", "jane@acme.example"), Person("Bob Roe", "bob@acme.example")],
        "two": [Person("Chen Wei", "chen@globex.example")],
    }
    for i, (name, people) in enumerate(meetings.items()):
        start = end - timedelta(hours=2 * i + 1)
        ev = make_event(f"{name}@crash.example", f"Meeting {name}", start, start + timedelta(
            minutes=45), people, description=f"We talked about {name}.")
        (cal / f"{name}.ics").write_bytes(ev.to_ical())
    for d in ("contacts", "followups"):
        (root / d).mkdir()
    md = mailbox.Maildir(root / "Maildir", create=True)
    md.add_folder("Sent")
    md.add_folder("Drafts")
    config = root / "followup.toml"
    config.write_text(CONFIG.format(me=ADA.email))
    return config


def _run(config: Path, kill_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "FOLLOWUP_TEST_KILL_AT"}
    if kill_at:
        env["FOLLOWUP_TEST_KILL_AT"] = kill_at
    return subprocess.run(
        [sys.executable, "-m", "followup", "--log-format", "json", "run", "--once",
         "--config", str(config)],
        env=env, capture_output=True, text=True, timeout=120,
    )


def _objects(root: Path) -> dict[str, list[str]]:
    """What the user sees: contact emails, draft recipients, block summaries."""
    contacts = []
    for vcf in sorted((root / "contacts").glob("*.vcf")):
        card = vobject.readOne(vcf.read_text())
        contacts.extend(sorted(e.value.lower() for e in card.contents.get("email", [])))
    drafts = sorted(
        str(m["To"]) for m in mailbox.Maildir(root / "Maildir" / ".Drafts", create=False)
    )
    blocks = sorted(p.name for p in (root / "followups").glob("*.ics"))
    return {"contacts": sorted(contacts), "drafts": drafts, "blocks": blocks}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[datetime, dict[str, list[str]]]:
    now = datetime.now(UTC)
    root = tmp_path_factory.mktemp("reference")
    config = _workspace(root, now)
    done = _run(config)
    assert done.returncode == 0, done.stderr
    objects = _objects(root)
    assert len(objects["contacts"]) == 3
    # One draft per person or one per meeting: each person is in exactly one draft.
    addressed = sorted(a.lower() for _, a in getaddresses(objects["drafts"]))
    assert addressed == objects["contacts"]
    assert _run(config).returncode == 0
    assert _objects(root) == objects, "a second run must create nothing new"
    return now, objects


@pytest.mark.parametrize("point", ["before_write", "after_write"])
def test_sigkill_at_every_write_step_leaves_each_object_exactly_once(
    tmp_path: Path, reference: tuple[datetime, dict[str, list[str]]], point: str
) -> None:
    now, expected = reference
    writes = sum(len(v) for v in expected.values())
    for n in range(1, writes + 1):
        root = tmp_path / f"{point}-{n}"
        config = _workspace(root, now)
        killed = _run(config, kill_at=f"{point}:{n}")
        assert killed.returncode == -signal.SIGKILL, (n, killed.returncode, killed.stderr[-2000:])
        restarted = _run(config)
        assert restarted.returncode == 0, restarted.stderr[-2000:]
        assert _objects(root) == expected, f"after a kill at {point}:{n}"


def _followup(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "followup", *args, "--config", str(config)],
        capture_output=True, text=True, timeout=120,
    )


def _ledger_files(root: Path) -> list[Path]:
    return sorted((root / "state").glob("ledger.sqlite3*"))


def test_a_lost_ledger_re_adopts_what_was_written_and_keeps_deleted_drafts_deleted(
    tmp_path: Path, reference: tuple[datetime, dict[str, list[str]]]
) -> None:
    now, expected = reference
    config = _workspace(tmp_path, now)
    assert _run(config).returncode == 0
    assert _objects(tmp_path) == expected
    drafts = mailbox.Maildir(tmp_path / "Maildir" / ".Drafts", create=False)
    for key in list(drafts.keys()):  # the user deletes every draft...
        drafts.remove(key)
    for f in _ledger_files(tmp_path):  # ... and the ledger is lost
        f.unlink()
    files_before = sorted(p.name for d in ("contacts", "followups") for p in
                          (tmp_path / d).iterdir())

    again = _run(config)

    assert again.returncode == 0, again.stderr[-2000:]
    assert _objects(tmp_path) == {**expected, "drafts": []}, "nothing rewritten"
    assert sorted(p.name for d in ("contacts", "followups") for p in
                  (tmp_path / d).iterdir()) == files_before
    log = _followup(config, "log", "--json")
    assert log.returncode == 0, log.stderr
    what = [json.loads(line) for line in log.stdout.splitlines()]
    assert {e["what"] for e in what if e["kind"] == "draft"} == {"dismissed"}


def test_a_page_corrupted_ledger_is_reported_by_doctor_and_stops_plan_and_run_in_one_line(
    tmp_path: Path, reference: tuple[datetime, dict[str, list[str]]]
) -> None:
    now, _ = reference
    config = _workspace(tmp_path, now)
    assert _run(config).returncode == 0
    (db,) = _ledger_files(tmp_path)
    size = db.stat().st_size
    with db.open("r+b") as f:  # a failing disk: pages in the middle turn to garbage
        f.seek(size // 3)
        f.write(os.urandom(size // 3))

    doctor = _followup(config, "doctor")
    assert doctor.returncode == 1
    assert "[FAIL]" in doctor.stdout and "ledger" in doctor.stdout
    assert "All good" not in doctor.stdout
    for args in (["plan"], ["run", "--once"]):
        done = _followup(config, "--log-format", "json", *args)
        assert done.returncode != 0, args
        assert "Traceback" not in done.stderr + done.stdout, (args, done.stderr[-2000:])
        said = [line for line in done.stderr.splitlines() if not line.startswith("{")]
        assert len(said) == 1 and "damaged" in said[0], (args, done.stderr[-2000:])


def test_a_folder_that_cannot_be_written_pauses_the_writes_and_fails_run_once(
    tmp_path: Path, reference: tuple[datetime, dict[str, list[str]]]
) -> None:
    now, expected = reference
    config = _workspace(tmp_path, now)
    # The drafts' tmp/ on a file system that refuses new files (as a read-only or foreign
    # mount would; /sys refuses even root): every draft write fails with EACCES.
    tmp = tmp_path / "Maildir" / ".Drafts" / "tmp"
    tmp.rmdir()
    tmp.symlink_to("/sys/kernel")

    failed = _run(config)
    assert failed.returncode == 1, failed.stderr[-2000:]
    assert "Traceback" not in failed.stderr
    status = _followup(config, "status")
    assert "writes paused until" in status.stdout, status.stdout
    doctor = _followup(config, "doctor")
    assert doctor.returncode == 1 and "writes paused" in doctor.stdout, doctor.stdout

    tmp.unlink()  # fixed
    tmp.mkdir()
    retried = _followup(config, "retry")
    assert retried.returncode == 0, retried.stderr
    assert _run(config).returncode == 0
    assert _objects(tmp_path) == expected

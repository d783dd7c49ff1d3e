"""Two real processes on one PostgreSQL ledger (two containers of the compose file, a rolling
deploy) never write anything twice.

Each process has its own state dir (so the local file lock does not serialise them, as in two
containers) and the same output folders and ledger. Checked twice: through `followup run
--once` (the per-account advisory lock lets one of them run the account), and with two
engines applying the same planned writes without that lock, each write slowed down, every
write asked of a target noted in a shared file: each is asked once (the write claims in
begin_attempt must hold by themselves; without them every write is asked twice).
PostgreSQL is required: without it the test skips, and in CI (CI=true) it fails.
"""

from __future__ import annotations

import mailbox
import os
import re
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import getaddresses
from pathlib import Path

import pytest
import vobject

from followup.demo.workspace import ADA, Person, make_event

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROUNDS = 4
MEETINGS = 6
PEOPLE_PER_MEETING = 3

CONFIG = """\
state_dir = "{state}"
[user]
name = "Ada Lovelace"
addresses = ["{me}"]
timezone = "UTC"
[ledger]
url = "{url}"
[[accounts]]
kind = "local"
name = "{account}"
calendars = ["calendar"]
maildir = "Maildir"
contacts = "contacts"
followups = "followups"
"""

ENGINE_ONLY = textwrap.dedent("""
    import os
    import sys
    import time
    from datetime import UTC, datetime
    from pathlib import Path
    from followup.engine.apply import apply_pending
    from followup.engine.cycle import run_cycle
    from followup.ledger import Ledger
    from followup.providers import open_account
    from followup.service.daemon import load_settings

    class Counted:
        \"\"\"A target that notes every write it is asked for, in a file both processes share.\"\"\"
        def __init__(self, target, log):
            self.target, self.log = target, log
        def ensure(self, key, payload, *, recovering):
            with open(self.log, "a") as f:
                f.write(f"{os.getpid()} {key}\\n")
            time.sleep(0.05)  # a slow disk or server: the other process catches up
            return self.target.ensure(key, payload, recovering=recovering)
        def __getattr__(self, name):
            return getattr(self.target, name)

    settings = load_settings(Path(sys.argv[1]))
    config = settings.config
    with Ledger.open(config.ledger_url()) as ledger:  # no account_lock: claims only
        account = open_account(config.accounts[0], config)
        now = datetime.now(UTC)
        if sys.argv[2] == "plan":  # record every intent, write nothing: stop once planned
            planned = lambda: bool(ledger.pending(account.name, now))  # noqa: E731
            run_cycle(config, ledger, account, settings.composer, now, stop=planned)
        else:
            log = Path(sys.argv[1]).parent / "ensures.log"
            for kind in ("contacts", "drafts", "blocks"):
                setattr(account, kind, Counted(getattr(account, kind), log))
            print(apply_pending(ledger, account, now).attempted)
""")


def _workspace(root: Path, url: str, account: str) -> list[Path]:
    """Meetings that ended an hour ago, and one config per process (own state dirs)."""
    now = datetime.now(UTC)
    cal = root / "calendar"
    cal.mkdir(parents=True)
    for i in range(MEETINGS):
        people = [Person(f"Person {i}-{j}", f"p{i}-{j}@client{i}.example")
                  for j in range(PEOPLE_PER_MEETING)]
        start = now - timedelta(hours=2, minutes=10 * i)
        ev = make_event(f"m{i}@shared.example", f"Meeting {i}", start,
                        start + timedelta(minutes=45), people, description="Notes.")
        (cal / f"m{i}.ics").write_bytes(ev.to_ical())
    for d in ("contacts", "followups"):
        (root / d).mkdir()
    md = mailbox.Maildir(root / "Maildir", create=True)
    md.add_folder("Sent")
    md.add_folder("Drafts")
    configs = []
    for name in ("a", "b"):
        config = root / f"followup-{name}.toml"
        config.write_text(CONFIG.format(state=f"state-{name}", me=ADA.email, url=url,
                                        account=account))
        configs.append(config)
    return configs


def _counts(root: Path) -> tuple[Counter[str], Counter[str], int]:
    contacts: Counter[str] = Counter()
    for vcf in (root / "contacts").glob("*.vcf"):
        card = vobject.readOne(vcf.read_text())
        contacts.update(e.value.lower() for e in card.contents.get("email", []))
    drafts = Counter(
        str(m["To"]) for m in mailbox.Maildir(root / "Maildir" / ".Drafts", create=False))
    blocks = len(list((root / "followups").glob("*.ics")))
    return contacts, drafts, blocks


def _together(commands: list[list[str]], cwd: Path) -> list[subprocess.CompletedProcess[str]]:
    env = {k: v for k, v in os.environ.items() if k != "FOLLOWUP_TEST_KILL_AT"}
    procs = [subprocess.Popen(c, cwd=cwd, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for c in commands]
    done = []
    for c, p in zip(commands, procs, strict=True):
        out, err = p.communicate(timeout=180)
        done.append(subprocess.CompletedProcess(c, p.returncode, out, err))
    return done


def _assert_each_once(root: Path) -> None:
    contacts, drafts, blocks = _counts(root)
    people = MEETINGS * PEOPLE_PER_MEETING
    assert len(contacts) == people and set(contacts.values()) == {1}, contacts
    assert set(drafts.values()) == {1}, drafts
    # Whether a meeting gets one draft to everyone or one per person: each person is in
    # exactly one draft.
    addressed = Counter(a.lower() for _, a in getaddresses(list(drafts)))
    assert len(addressed) == people and set(addressed.values()) == {1}, addressed
    # Blocks are files named by their key: a second copy cannot exist. (Whether one is due yet
    # depends on the day: a meeting that ended on a weekend gets Monday's block.)
    del blocks


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_followup_run_once_on_one_postgresql_ledger_write_each_object_once(
    tmp_path: Path, postgres_url: str, round_: int
) -> None:
    configs = _workspace(tmp_path, postgres_url, f"shared{round_}")
    runs = _together([[sys.executable, "-m", "followup", "--log-format", "json", "run",
                       "--once", "--config", str(c)] for c in configs], tmp_path)
    for run in runs:
        assert "Traceback" not in run.stderr, run.stderr[-3000:]
        # 0: it ran the account; 75: the other process held the account (said in one line).
        assert run.returncode in (0, 75), (run.returncode, run.stderr[-3000:])
    assert 0 in [r.returncode for r in runs]
    # Together the two wrote what was planned, once: both in parts, or one all of it (the
    # other held off, or, on a busy machine, started after the first was done: 0 written).
    said = "".join(r.stdout for r in runs)
    written = sum(int(n) for n in re.findall(r"(\d+) written", said))
    planned = max(int(n) for n in re.findall(r"(\d+) new writes", said))
    assert planned > 0 and written == planned, [r.stdout for r in runs]
    _assert_each_once(tmp_path)
    # Both again, now that everything exists: still nothing twice.
    _together([[sys.executable, "-m", "followup", "run", "--once", "--config", str(c)]
               for c in configs], tmp_path)
    _assert_each_once(tmp_path)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_write_claims_alone_keep_two_engines_from_writing_twice(
    tmp_path: Path, postgres_url: str, round_: int
) -> None:
    configs = _workspace(tmp_path, postgres_url, f"claims{round_}")
    (planned,) = _together([[sys.executable, "-c", ENGINE_ONLY, str(configs[0]), "plan"]],
                           tmp_path)
    assert planned.returncode == 0, planned.stderr[-3000:]
    assert _counts(tmp_path) == (Counter(), Counter(), 0)
    runs = _together([[sys.executable, "-c", ENGINE_ONLY, str(c), "apply"] for c in configs],
                     tmp_path)
    for run in runs:
        assert run.returncode == 0, run.stderr[-3000:]
    _assert_each_once(tmp_path)
    asked = Counter(line.split()[1] for line in (tmp_path / "ensures.log").read_text()
                    .splitlines())
    assert asked and set(asked.values()) == {1}, f"writes asked of both processes: {asked}"
    written = [int(r.stdout.split()[-1]) for r in runs]
    assert sum(written) == len(asked), "every write was made by one of them"

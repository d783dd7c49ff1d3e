"""`followup demo`: build the workspace, run one real cycle over it, explain the result."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from followup.commands import templates_dir
from followup.config import LocalAccount, load_config
from followup.core.compose import Composer
from followup.core.planner import first_touch_due
from followup.demo import ownership
from followup.demo.workspace import USER_EMAIL, USER_NAME, prepare_workspace
from followup.engine.cycle import run_cycle
from followup.ledger import Ledger
from followup.providers import open_account
from followup.report import print_cycle, when


def local_zone() -> ZoneInfo:
    """This machine's time zone by IANA name, or UTC when it cannot be named."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        target = Path("/etc/localtime").resolve()
        if "zoneinfo" in target.parts:
            candidates.append("/".join(target.parts[target.parts.index("zoneinfo") + 1 :]))
    except OSError:
        pass
    for name in candidates:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def run_demo(workdir: Path, *, out: TextIO, timezone: str | None = None) -> int:
    try:
        tz = ZoneInfo(timezone) if timezone else local_zone()
    except (ZoneInfoNotFoundError, ValueError):
        print(f"followup demo: unknown time zone {timezone!r}", file=out)
        return 2
    now = datetime.now(UTC)
    try:
        workspace = prepare_workspace(workdir, now, tz)
    except FileExistsError as e:
        print(f"followup demo: {e}", file=out)
        return 2
    config_path = workspace.config
    built = ownership.snapshot(workdir)
    config = load_config(config_path)
    account_cfg = config.accounts[0]
    assert isinstance(account_cfg, LocalAccount)
    ledger = Ledger.open(config.ledger_url())
    account = open_account(account_cfg, config)
    composer = Composer(config.user, templates_dir(config))
    d = workdir
    print(f"followup demo: a workspace for {USER_NAME} <{USER_EMAIL}> in {d}/ (zone {tz.key})",
          file=out)
    print(f"  {d}/calendar/: {len(list((d / 'calendar').glob('*.ics')))} meetings this week "
          "(drop more .ics files in)", file=out)
    print(f"  {d}/Maildir/: one invitation mail in the inbox, one sent mail in .Sent", file=out)
    print(f"  {d}/contacts/: Grace Hopper is already in the address book", file=out)
    for rel in workspace.kept:
        print(f"  {d}/{rel}: changed since the last demo, so kept as it is", file=out)
    print(f"\nOne cycle at {when(now, tz)}:\n", file=out)
    report = run_cycle(config, ledger, account, composer, now)
    print_cycle(report, tz=tz, out=out, ledger=ledger)
    waiting = report.blocks_waiting_until
    if waiting is not None:
        # Outside working hours the blocks wait for the next working window; the demo
        # shows that cycle too, rather than leave the calendar empty until then.
        print(f"\nOutside your working hours: the blocks wait for {when(waiting, tz)}. "
              "The cycle then:\n", file=out)
        later_report = run_cycle(config, ledger, account, composer, waiting)
        print_cycle(later_report, tz=tz, out=out, ledger=ledger)
        report.errors.extend(later_report.errors)
    ownership.record(workdir, built)  # what the cycles made is the demo's own too

    horizon = now + timedelta(days=config.daemon.horizon_days)
    later = ledger.meetings(account.name, now, horizon)
    upcoming = [m for m in later if m.start > now and not m.is_recurring]
    if upcoming:
        print("Upcoming (followed up once they end):", file=out)
        for m in sorted(upcoming, key=lambda m: m.start):
            due = first_touch_due(m, config.schedule)
            print(f"  {m.title} ({when(m.start, tz)}): next cycle at {when(due, tz)}", file=out)
    ledger.close()

    print("""
Your notes stay private: "Coffee with Jane Doe" had notes such as "Seemed wary of small
vendors - don't discount". The draft to Jane carries only the line marked "> " and what you
promised (the Kalman filter article, the introduction); the whole of the notes is on the
follow-up block and Jane's card, where only you read them.""", file=out)
    print(f"""
Where to look (nothing was sent; everything is a draft):
  drafts      mutt -F {d}/muttrc     (R recalls a draft; or any Maildir client: flag D)
  blocks      khal -c {d}/khal.conf list now 7d     ({d}/followups/*.ics)
  contacts    khard -c {d}/khard.conf list       ({d}/contacts/*.vcf)
  run again   followup run --once --config {d}/followup.toml    (creates nothing new)
  plan        followup plan --config {d}/followup.toml
  undo        followup undo --yes --config {d}/followup.toml    (removes what followup made)
  demo again  followup demo --workdir {d}    (renews the demo's files, keeps yours)""",
          file=out)
    return 1 if report.errors else 0

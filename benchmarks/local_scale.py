"""Scale of the local provider and the whole cycle: first cycle, idle cycle, peak RSS.

    python benchmarks/local_scale.py [--sizes 1000 10000]

For each size, a child process generates a vdir calendar of that many events (over the past
30 and the next 30 days, 1 to 4 external attendees, one in ten weekly-recurring), runs a first
cycle over it (parsing, triage, drafts, contacts, blocks), then an idle cycle (nothing changed),
and prints the times and its peak resident set size. Each size runs in its own process so the
RSS figure is that size's alone.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from icalendar import Calendar, Event, vCalAddress


def generate(calendar: Path, n: int, now: datetime, seed: int = 7, *, days: int = 30) -> None:
    """`n` events spread over `days` days either side of `now`."""
    rng = random.Random(seed)
    calendar.mkdir(parents=True)
    for i in range(n):
        start = now + timedelta(minutes=rng.randrange(-days * 24 * 60, days * 24 * 60, 15))
        cal = Calendar()
        cal.add("prodid", "-//followup//bench//EN")
        cal.add("version", "2.0")
        ev = Event()
        ev.add("uid", f"bench-{i}@example.org")
        ev.add("summary", f"Meeting {i}")
        ev.add("dtstamp", now)
        ev.add("dtstart", start)
        ev.add("dtend", start + timedelta(minutes=rng.choice([30, 45, 60])))
        ev.add("description", f"Notes for meeting {i}: discussed item {rng.randrange(1000)}.")
        if i % 10 == 0:
            ev.add("rrule", {"FREQ": "WEEKLY", "COUNT": 8})
        me = vCalAddress("mailto:me@bench.example")
        me.params["PARTSTAT"] = "ACCEPTED"
        ev.add("attendee", me)
        for j in range(rng.randint(1, 4)):
            a = vCalAddress(f"mailto:person{rng.randrange(n * 2)}-{j}@company{i % 97}.example")
            a.params["CN"] = f"Person {i}-{j}"
            a.params["PARTSTAT"] = "ACCEPTED"
            ev.add("attendee", a)
        cal.add_component(ev)
        (calendar / f"{i:06d}.ics").write_bytes(cal.to_ical())


def child(n: int) -> dict[str, float]:
    from followup.config import load_config
    from followup.core.compose import Composer
    from followup.engine.cycle import run_cycle
    from followup.ledger import Ledger
    from followup.providers import open_account

    now = datetime.now(UTC)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        generate(root / "calendar", n, now)
        gen = time.perf_counter() - t0
        (root / "followup.toml").write_text(
            'state_dir = "state"\n[user]\naddresses = ["me@bench.example"]\n'
            '[[accounts]]\nkind = "local"\nname = "bench"\ncalendars = ["calendar"]\n'
            'maildir = "Maildir"\ncontacts = "contacts"\nfollowups = "followups"\n'
        )
        for d in ("contacts", "followups", "Maildir/cur", "Maildir/new", "Maildir/tmp"):
            (root / d).mkdir(parents=True)
        config = load_config(root / "followup.toml")
        ledger = Ledger.open(config.ledger_url())
        account = open_account(config.accounts[0], config)
        composer = Composer(config.user, None)
        t0 = time.perf_counter()
        first = run_cycle(config, ledger, account, composer, now)
        first_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_cycle(config, ledger, account, composer, now + timedelta(seconds=30))
        idle_s = time.perf_counter() - t0
        writes = sum(1 for p in (root / "contacts").iterdir()) + sum(
            1 for p in (root / "followups").iterdir()
        )
    return {
        "events": n,
        "generate_s": round(gen, 2),
        "first_cycle_s": round(first_s, 2),
        "idle_cycle_s": round(idle_s, 3),
        "meetings_processed": float(first.meetings_processed),
        "files_written": float(writes),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    header = ("events", "first cycle", "idle cycle", "peak RSS", "processed")
    print("{:>8} {:>12} {:>11} {:>10} {:>10}".format(*header))
    for n in args.sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(n)], check=True, capture_output=True,
            text=True,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(
            f"{r['events']:>8} {r['first_cycle_s']:>11.2f}s {r['idle_cycle_s']:>10.3f}s "
            f"{r['peak_rss_mib']:>8.1f}MiB {int(r['meetings_processed']):>10}"
        )


if __name__ == "__main__":
    main()

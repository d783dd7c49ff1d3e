"""followup against khal on one generated 10,000-event vdir: first run and idle run.

    python benchmarks/khal_compare.py [--events 10000] [--repeat 5] [--khal-venv /tmp/khal-venv]
                                      [--before-src OLD/src]

The vdir comes from benchmarks/local_scale.py's generator, spread over three years (1 to 4
attendees, one event in ten weekly-recurring). khal is installed into its own venv (created
with `python3 -m venv` and `pip install khal` when missing), so neither program's libraries
touch the other's.

Measured, each as its own process, --repeat times (the machine may be shared, so medians):
- khal's first indexing: `khal list` on an empty database (khal reads every file into SQLite);
- khal idle: `khal list` again, nothing changed;
- followup first: `followup run --once` on an empty state (sync, plan, write everything);
- followup idle: `followup run --once` again, nothing changed (answered from the last
  round's snapshot, service.snapshot), and the same with FOLLOWUP_NO_SNAPSHOT=1 (a full
  cycle: what a run costs once something changed or fell due);
- `followup status`, `plan` and `--help`, idle, from the snapshot and in full.
Each figure is wall time and CPU time (user + system of the child); ratios are followup / khal
(below 1: followup is faster), on both. On a shared machine CPU time is the steadier figure.
With --before-src (the src folder of another checkout, e.g. a `git worktree` of an older
commit) followup's figures are also measured with that code, for a before/after table.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_scale import generate

KHAL_CONFIG = """\
[calendars]
[[bench]]
path = {calendar}
type = calendar

[locale]
timeformat = %H:%M
dateformat = %Y-%m-%d
longdateformat = %Y-%m-%d
datetimeformat = %Y-%m-%d %H:%M
longdatetimeformat = %Y-%m-%d %H:%M
local_timezone = UTC
default_timezone = UTC

[sqlite]
path = {db}
"""

FOLLOWUP_CONFIG = """\
state_dir = "{state}"
[user]
name = "Bench User"
addresses = ["me@bench.example"]
timezone = "UTC"
[[accounts]]
kind = "local"
name = "bench"
calendars = ["{calendar}"]
maildir = "{root}/Maildir"
contacts = "{root}/contacts"
followups = "{root}/followups"
"""


def ensure_khal(venv: Path) -> Path:
    khal = venv / "bin" / "khal"
    if not khal.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "khal"], check=True)
    return khal


def timed(argv: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one child process, which must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def repeat(n: int, prepare: Callable[[], None], argv: Sequence[str],
           env: dict[str, str] | None = None) -> tuple[float, float]:
    """Median wall and CPU seconds over n runs, `prepare` before each."""
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(n):
        prepare()
        wall, cpu = timed(argv, env)
        walls.append(wall)
        cpus.append(cpu)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5, help="runs per figure (median)")
    ap.add_argument("--first-repeat", type=int, default=3, help="runs per first-run figure")
    ap.add_argument("--khal-venv", type=Path, default=Path("/tmp/khal-venv"))
    ap.add_argument("--before-src", type=Path, help="also measure followup from this src/")
    args = ap.parse_args()
    khal = ensure_khal(args.khal_venv)
    version = subprocess.run([str(khal), "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    followup = [sys.executable, "-m", "followup"]

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        calendar = root / "calendar"
        generate(calendar, args.events, datetime.now(UTC), days=548)  # three years
        khal_conf = root / "khal.conf"
        khal_db = root / "khal.db"
        khal_conf.write_text(KHAL_CONFIG.format(calendar=calendar, db=khal_db))
        khal_list = [str(khal), "-c", str(khal_conf), "list"]
        env = {**os.environ, "TZ": "UTC"}

        def fresh_khal() -> None:
            for p in root.glob("khal.db*"):
                p.unlink()

        config = root / "followup.toml"
        config.write_text(FOLLOWUP_CONFIG.format(state=root / "state", root=root,
                                                 calendar=calendar))
        run_once = [*followup, "--config", str(config), "--log-level", "error", "run", "--once"]

        def fresh_followup() -> None:
            for d in ("state", "contacts", "followups", "Maildir"):
                shutil.rmtree(root / d, ignore_errors=True)
            for d in ("contacts", "followups", "Maildir/cur", "Maildir/new", "Maildir/tmp"):
                (root / d).mkdir(parents=True)

        results: dict[str, tuple[float, float]] = {}
        if args.before_src:
            old = {**env, "PYTHONPATH": str(args.before_src.resolve())}
            results["followup before: first"] = repeat(args.first_repeat, fresh_followup,
                                                       run_once, old)
            results["followup before: idle"] = repeat(args.repeat, lambda: None, run_once,
                                                      old)
        results["khal first indexing"] = repeat(args.first_repeat, fresh_khal, khal_list, env)
        results["khal idle list"] = repeat(args.repeat, lambda: None, khal_list, env)
        results["followup first run --once"] = repeat(args.first_repeat, fresh_followup,
                                                      run_once, env)
        # The first idle run finds files written a moment ago (too fresh for a stat to vouch
        # for: service.snapshot) and runs the cycle; it leaves the snapshot the others use.
        timed(run_once, env)
        results["followup idle run --once"] = repeat(args.repeat, lambda: None, run_once, env)
        full = {**env, "FOLLOWUP_NO_SNAPSHOT": "1"}
        results["followup idle, full cycle"] = repeat(args.repeat, lambda: None, run_once, full)
        timed(run_once, env)  # the full cycles above left a fresh snapshot: time it again
        base = [*followup, "--config", str(config), "--log-level", "error"]
        for name in ("status", "plan"):
            results[f"followup {name}"] = repeat(args.repeat, lambda: None, [*base, name], env)
            results[f"followup {name}, in full"] = repeat(args.repeat, lambda: None,
                                                          [*base, name], full)
        results["followup --help"] = repeat(args.repeat, lambda: None, [*followup, "--help"],
                                            env)
    print(f"{args.events} events, {version}, {os.cpu_count()} CPUs, load "
          f"{os.getloadavg()[0]:.1f}; medians of {args.first_repeat} first / "
          f"{args.repeat} idle runs")
    print(f"{'':28} {'wall':>8} {'cpu':>8}")
    for name, (wall, cpu) in results.items():
        print(f"{name:28} {wall:7.2f}s {cpu:7.2f}s")
    sys.stdout.flush()
    for what, ours, theirs in (("first", "followup first run --once", "khal first indexing"),
                               ("idle ", "followup idle run --once", "khal idle list"),
                               ("idle, full cycle", "followup idle, full cycle",
                                "khal idle list")):
        wall = results[ours][0] / results[theirs][0]
        cpu = results[ours][1] / results[theirs][1]
        print(f"ratio {what} (followup / khal): wall {wall:.2f}, cpu {cpu:.2f}")


if __name__ == "__main__":
    main()

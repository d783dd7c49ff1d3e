"""CPU per idle Google cycle, and where it goes: googleapiclient method objects or the rest.

Runs the engine against the test suite's fake Google (tests/google/fake_google.py, in this
process) with one connected account and the default settings: a first cycle, then --cycles
idle cycles one second apart (so the 30-minute invitation look stays quiet, as in most real
idle cycles). CPU is the cycle thread's own CPU time (time.thread_time), so the fake server's
threads do not count. Also opens a second account in the same process, as a daemon with
several accounts (or a worker handling many) does.

    python benchmarks/google_idle_cpu.py [--cycles 300]

Figures printed: requests per idle cycle, CPU per idle cycle (median, mean, p90), method
objects googleapiclient built per idle cycle (createMethod calls), CPU to open an account.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from googleapiclient import discovery

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "google"))

from fake_google import FakeGoogle

from followup.config import Config, GoogleAccount, UserConfig
from followup.core.compose import Composer
from followup.engine.cycle import run_cycle
from followup.ledger import Ledger
from followup.log import configure_logging
from followup.providers import token_path
from followup.providers.google import open_google_account
from followup.providers.google.tokens import FileTokenStore

T0 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


class MethodBuilds:
    """Counts googleapiclient's createMethod calls (one per API method object built)."""

    def __init__(self) -> None:
        self.count = 0
        self._real: Callable[..., Any] = discovery.createMethod

    def __enter__(self) -> MethodBuilds:
        def counting(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return self._real(*args, **kwargs)

        discovery.createMethod = counting
        return self

    def __exit__(self, *exc: object) -> None:
        discovery.createMethod = self._real


def _account(fake: FakeGoogle, config: Config, name: str) -> GoogleAccount:
    cfg = GoogleAccount.model_validate({"name": name, **fake.account_urls()})
    FileTokenStore(token_path(config, name)).save(fake.authorized_user_info())
    return cfg


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.thread_time()
    result = fn()
    return time.thread_time() - start, result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=300, help="idle cycles to measure")
    args = ap.parse_args()
    configure_logging(level="warning")  # as the daemon runs: no debug line per cycle

    fake = FakeGoogle(user="me@example.com").start()
    fake.clock = T0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = Config(
                user=UserConfig(name="Me Myself", addresses=["me@example.com"],
                                timezone="UTC"),
                state_dir=str(Path(tmp) / "state"),
            )
            cfg = _account(fake, config, "work")
            open_first, account = _timed(
                lambda: open_google_account(cfg, config, clock=lambda: now))
            composer = Composer(config.user)
            with Ledger.open(f"sqlite:///{Path(tmp) / 'ledger.sqlite3'}") as ledger:
                now = T0
                run_cycle(config, ledger, account, composer, now)  # first sync
                run_cycle(config, ledger, account, composer, now + timedelta(seconds=1))
                cpu: list[float] = []
                requests_before = len(fake.log)
                with MethodBuilds() as builds:
                    for i in range(args.cycles):
                        now = T0 + timedelta(seconds=2 + i)
                        fake.clock = now
                        start = time.thread_time()
                        run_cycle(config, ledger, account, composer, now)
                        spent = time.thread_time() - start
                        cpu.append(spent)
                    methods_idle = builds.count
                    cfg2 = _account(fake, config, "second")
                    open_second, _ = _timed(
                        lambda: open_google_account(cfg2, config, clock=lambda: now))
                    methods_open = builds.count - methods_idle
            requests = (len(fake.log) - requests_before) / args.cycles
    finally:
        fake.stop()

    ms = sorted(1000 * c for c in cpu)
    p90 = ms[int(0.9 * (len(ms) - 1))]
    print(f"idle cycles measured:             {args.cycles}")
    print(f"requests per idle cycle:          {requests:.2f}")
    print(f"CPU per idle cycle (ms):          median {statistics.median(ms):.2f}, "
          f"mean {statistics.fmean(ms):.2f}, p90 {p90:.2f}")
    print(f"method objects built per idle cycle: {methods_idle / args.cycles:.1f}")
    print(f"open the first account (ms CPU):  {1000 * open_first:.1f}")
    print(f"open a second account (ms CPU):   {1000 * open_second:.1f} "
          f"({methods_open} method objects built)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

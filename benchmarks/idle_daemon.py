"""How much an idle `followup run` costs: RSS, CPU time and wake-ups over a quiet period.

Builds the demo workspace (local files), starts the daemon on it with /healthz enabled, waits
until its first cycle is done (the backfill), then samples the process for --seconds (default
300, the default poll interval, so one incremental poll falls inside the window).

    python benchmarks/idle_daemon.py [--seconds 300] [--poll 300]

Figures come from /proc (Linux): CPU = utime + stime of all threads, RSS = VmRSS, wake-ups =
voluntary context switches of all threads.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from followup.demo.workspace import build_workspace

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14, 15)


def status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def wakeups(pid: int) -> int:
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                total += int(line.split()[1])
    return total


def threads(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/task").iterdir()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=300.0, help="idle period to measure")
    ap.add_argument("--poll", type=int, default=300, help="daemon.poll_seconds")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = build_workspace(root / "ws", datetime.now(UTC), ZoneInfo("UTC"))
        with config.open("a") as f:
            f.write(f'\n[daemon]\npoll_seconds = {args.poll}\nhttp_listen = "127.0.0.1:0"\n')
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(root / "notify.sock"))
        notify.settimeout(120)
        env = {**os.environ, "NOTIFY_SOCKET": str(root / "notify.sock")}
        env.pop("WATCHDOG_USEC", None)
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "followup", "--log-format", "json", "--config", str(config),
             "run"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            while b"next wake" not in notify.recv(4096):
                pass  # READY=1 comes as the first cycle starts; STATUS=...next wake after it
            first_cycle = time.monotonic() - started
            pid = proc.pid
            rss_start = status_kib(pid, "VmRSS")
            cpu0, wake0 = cpu_seconds(pid), wakeups(pid)
            t0 = time.monotonic()
            time.sleep(args.seconds)
            elapsed = time.monotonic() - t0
            cpu1, wake1 = cpu_seconds(pid), wakeups(pid)
            rss_end, rss_peak = status_kib(pid, "VmRSS"), status_kib(pid, "VmHWM")
            n_threads = threads(pid)
            proc.send_signal(signal.SIGTERM)
            stop_t = time.monotonic()
            code = proc.wait(30)
            stop_s = time.monotonic() - stop_t
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            notify.close()

    cpu = cpu1 - cpu0
    print(f"first cycle (demo backfill), start to idle: {first_cycle:.2f} s")
    print(f"idle period measured:        {elapsed:.0f} s (poll every {args.poll} s)")
    print(f"CPU time while idle:         {cpu:.2f} s ({100 * cpu / elapsed:.3f} % of one core)")
    print(f"wake-ups (voluntary ctx sw): {wake1 - wake0} over {n_threads} threads")
    print(f"RSS: {rss_start / 1024:.1f} MiB after the first cycle, {rss_end / 1024:.1f} MiB at "
          f"the end, peak {rss_peak / 1024:.1f} MiB")
    print(f"SIGTERM to exit:             {stop_s:.2f} s, exit code {code}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

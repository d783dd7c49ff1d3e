"""The loop's sleep ends at its deadline, or at once when a signal handler wakes it."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import pytest

from followup.service.waker import Waker


@pytest.fixture
def waker() -> Iterator[Waker]:
    w = Waker()
    yield w
    w.close()


def test_wait_times_out_when_nobody_wakes_it(waker: Waker) -> None:
    t = time.monotonic()
    assert waker.wait(0.05) is False
    assert time.monotonic() - t >= 0.04


def test_a_wake_before_the_wait_is_not_lost_and_is_consumed(waker: Waker) -> None:
    for _ in range(10_000):  # more than a pipe holds: wake() must not block or raise
        waker.wake()
    assert waker.wait(5) is True
    assert waker.wait(0) is False, "pending wake-ups were consumed"


def test_a_signal_handler_ends_a_long_wait(waker: Waker) -> None:
    old = signal.signal(signal.SIGALRM, lambda *_: waker.wake())
    try:
        t = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, 0.05)  # the kernel signals us while we wait
        assert waker.wait(30) is True
        assert time.monotonic() - t < 5
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)

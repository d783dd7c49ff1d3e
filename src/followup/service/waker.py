"""Sleep until a deadline or a wake-up, without CPU, safely from a signal handler.

A self-pipe: wake() writes one byte, wait() blocks in select() on it. Unlike
threading.Event.set(), wake() takes no lock, so a signal handler may call it even while the
main thread is anywhere (Event.set() from a handler can deadlock on the Event's own lock).
A signal that lands just before wait() still ends it: the byte is already in the pipe.
"""

from __future__ import annotations

import contextlib
import os
import selectors


class Waker:
    def __init__(self) -> None:
        self._r, self._w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._r, selectors.EVENT_READ)

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError):  # full pipe: a wake-up is pending anyway
            os.write(self._w, b"\0")

    def wait(self, timeout: float) -> bool:
        """Block up to `timeout` seconds; True if woken (pending wake-ups are consumed)."""
        woken = bool(self._sel.select(timeout))
        with contextlib.suppress(BlockingIOError):
            while os.read(self._r, 4096):
                pass
        return woken

    def close(self) -> None:
        self._sel.close()
        os.close(self._r)
        os.close(self._w)

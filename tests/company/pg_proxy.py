"""A TCP proxy in front of the test PostgreSQL that can play a restart: every connection
cut, and new ones refused for a while, then accepted again on the same port.

The real server cannot be restarted in a test: other tests share it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from contextlib import suppress

from sqlalchemy.engine import make_url


class PgProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.lock = threading.Lock()
        self.open: list[socket.socket] = []
        self.listener = self._listen(0)
        self.port = self.listener.getsockname()[1]
        self._serve()

    @classmethod
    def for_url(cls, url: str) -> tuple[PgProxy, str]:
        """A proxy for the server of `url`, and `url` through the proxy."""
        parsed = make_url(url)
        proxy = cls((parsed.host or "localhost", parsed.port or 5432))
        through = parsed.set(host="127.0.0.1", port=proxy.port)
        return proxy, through.render_as_string(hide_password=False)

    def _listen(self, port: int) -> socket.socket:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(64)
        return s

    def _serve(self) -> None:
        listener = self.listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by outage() or close()
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        with suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for s in (src, dst):
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def outage(self, until: Callable[[], bool], timeout: float) -> bool:
        """Cut every connection and refuse new ones (a restart) until `until()` holds or
        `timeout` seconds pass; then listen again. Returns what `until()` said last."""
        self.listener.close()
        with self.lock:
            cut, self.open = self.open, []
        for s in cut:
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        # Nobody listens: a connect is refused, as by a server that is down.
        deadline = time.monotonic() + timeout
        while not (held := until()) and time.monotonic() < deadline:
            time.sleep(0.2)
        self.listener = self._listen(self.port)
        self._serve()
        return held

    def close(self) -> None:
        self.listener.close()
        with self.lock:
            for s in self.open:
                s.close()
            self.open = []

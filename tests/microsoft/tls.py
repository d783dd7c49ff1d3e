"""A throwaway CA (trustme) and a threaded HTTPS server on 127.0.0.1, for the fakes."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import trustme


class TestCA:
    def __init__(self, directory: Path) -> None:
        self.ca = trustme.CA()
        self.bundle = directory / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.bundle))
        self._leaf = self.ca.issue_cert("127.0.0.1", "localhost")

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._leaf.configure_cert(ctx)
        return ctx


class Server:
    """Serves `handler` over TLS in a daemon thread; `url` is https://127.0.0.1:PORT."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], ca: TestCA) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        ctx = ca.server_context()
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def quiet(cls: type[BaseHTTPRequestHandler]) -> type[BaseHTTPRequestHandler]:
    """No access log on stderr."""
    noop: Callable[..., None] = lambda *a, **k: None  # noqa: E731 - a one-line stub
    cls.log_message = noop  # type: ignore[method-assign]  # silence http.server's logger
    return cls

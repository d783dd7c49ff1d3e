"""/healthz and /metrics on a local port, from a stdlib HTTP server on a daemon thread: the
daemon's (its accounts' health board) and a company-mode worker's (the queue and accounts
in PostgreSQL, company.observe).

Meant for localhost (a container's HEALTHCHECK, a Prometheus scraper on the same host): it
shows account names and error summaries, never tokens or message contents.
"""

from __future__ import annotations

import ipaddress
import json
import os
import selectors
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from followup.metrics import REGISTRY
from followup.service.health import HealthBoard

log = structlog.get_logger(__name__)


def parse_listen(value: str) -> tuple[str, int]:
    """ "127.0.0.1:9464" or "[::1]:9464" -> (host, port); ValueError with the reason."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"daemon.http_listen {value!r}: expected HOST:PORT, e.g. 127.0.0.1:9464")
    return host.strip("[]") or "127.0.0.1", int(port)


# (healthy, JSON body) for /healthz; the exposition text for /metrics.
Health = Callable[[], tuple[bool, dict[str, Any]]]
Metrics = Callable[[], bytes]


def board_health(board: HealthBoard) -> Health:
    """The daemon's /healthz: healthy while any account is."""
    def health() -> tuple[bool, dict[str, Any]]:
        healthy = board.any_healthy()
        return healthy, {"status": "ok" if healthy else "unhealthy",
                         "accounts": {a.name: a.as_json() for a in board.snapshot()}}
    return health


def process_metrics() -> bytes:
    return bytes(generate_latest(REGISTRY))


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr: tuple[str, int], health: Health, metrics: Metrics) -> None:
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        self.health = health
        self.metrics = metrics
        super().__init__(addr, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "followup"
    sys_version = ""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            self._healthz()
        elif path == "/metrics":
            try:
                data = self.server.metrics()
            except Exception:  # the database is down: say so, do not kill the thread
                log.warning("http.metrics_failed", exc_info=True)
                self._send(503, "text/plain; charset=utf-8", b"metrics unavailable\n")
                return
            self._send(200, CONTENT_TYPE_LATEST, data)
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found: try /healthz or /metrics\n")

    def _healthz(self) -> None:
        try:
            healthy, body = self.server.health()
        except Exception as e:
            log.warning("http.health_failed", exc_info=True)
            healthy, body = False, {"status": "unhealthy", "error": type(e).__name__}
        data = json.dumps(body, indent=2, default=str).encode() + b"\n"
        self._send(200 if healthy else 503, "application/json", data)

    def _send(self, code: int, ctype: str, data: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http.request", request=self.requestline, client=self.client_address[0])


class HttpEndpoint:
    """Serves until stop(); binding errors surface from the constructor as OSError.

    Its loop blocks in select() on the listening socket and a wake-up pipe, so an idle
    daemon does not wake up at all (serve_forever polls twice a second).
    """

    def __init__(self, listen: str, health: Health, metrics: Metrics = process_metrics) -> None:
        self.listen = listen
        self._server = _Server(parse_listen(listen), health, metrics)
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._serve, name="followup-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        host = self._server.server_address[0]
        if not ipaddress.ip_address(str(host)).is_loopback:
            log.warning("http.listening_publicly", listen=self.listen,
                        advice="reachable from other machines; it shows account names and "
                        "errors: prefer 127.0.0.1")
        self._thread.start()
        log.info("http.listening", listen=self.listen, port=self.port)

    def _serve(self) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(self._server, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            while True:
                for key, _ in sel.select():
                    if key.fileobj == self._wake_r:
                        return
                    self._server.handle_request()

    def stop(self) -> None:
        os.write(self._wake_w, b"x")
        self._thread.join(timeout=5)
        self._server.server_close()
        os.close(self._wake_r)
        os.close(self._wake_w)

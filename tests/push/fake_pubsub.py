"""A local Cloud Pub/Sub, the REST surface google-cloud-pubsub's REST transport uses.

POST /v1/projects/P/subscriptions/S:pull ({"maxMessages"}) returns the messages not yet
acknowledged whose ack deadline has passed (new ones at once), each with a fresh ackId;
POST ...:acknowledge ({"ackIds"}) removes them. An empty pull waits a little first, as a
real one does. `publish` is what Gmail does when a watched mailbox changes.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class _Message:
    id: str
    data: bytes
    visible_at: float = 0.0
    deliveries: int = 0
    ack_id: str | None = None


class FakePubSub:
    def __init__(self, *, ack_deadline: float = 10.0, hold: float = 0.2) -> None:
        self.ack_deadline = ack_deadline
        self.hold = hold
        self.lock = threading.Lock()
        self.subscriptions: dict[str, list[_Message]] = {}
        self.ids = itertools.count(1)
        self.pulls = 0
        self.acks = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def create_subscription(self, name: str) -> str:
        self.subscriptions.setdefault(name, [])
        return name

    def publish(self, subscription: str, data: bytes) -> str:
        with self.lock:
            mid = str(next(self.ids))
            self.subscriptions[subscription].append(_Message(mid, data))
            return mid

    def publish_gmail(self, subscription: str, address: str, history_id: int) -> str:
        return self.publish(subscription, json.dumps(
            {"emailAddress": address, "historyId": history_id}).encode())

    def pending(self, subscription: str) -> int:
        with self.lock:
            return len(self.subscriptions[subscription])

    def _pull(self, name: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if name not in self.subscriptions:
            return 404, {"error": {"code": 404, "message": "Resource not found",
                                   "status": "NOT_FOUND"}}
        deadline = time.monotonic() + self.hold
        while True:
            with self.lock:
                self.pulls += 1
                now = time.monotonic()
                ready = [m for m in self.subscriptions[name] if m.visible_at <= now]
                ready = ready[: int(body.get("maxMessages") or 100)]
                out = []
                for m in ready:
                    m.deliveries += 1
                    m.ack_id = f"ack-{m.id}-{m.deliveries}"
                    m.visible_at = now + self.ack_deadline
                    out.append({"ackId": m.ack_id, "deliveryAttempt": m.deliveries,
                                "message": {"messageId": m.id,
                                            "data": base64.b64encode(m.data).decode(),
                                            "publishTime": "2026-11-29T10:00:00Z"}})
            if out or time.monotonic() >= deadline:
                return 200, {"receivedMessages": out} if out else {}
            time.sleep(0.02)

    def _ack(self, name: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        ids = set(body.get("ackIds") or [])
        with self.lock:
            before = len(self.subscriptions[name])
            self.subscriptions[name] = [m for m in self.subscriptions[name]
                                        if m.ack_id not in ids]
            self.acks += before - len(self.subscriptions[name])
        return 200, {}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                path = self.path.split("?")[0].removeprefix("/v1/")
                name, _, verb = path.rpartition(":")
                if verb == "pull":
                    status, answer = fake._pull(name, body)
                elif verb == "acknowledge":
                    status, answer = fake._ack(name, body)
                else:
                    status, answer = 404, {"error": {"code": 404, "message": path}}
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

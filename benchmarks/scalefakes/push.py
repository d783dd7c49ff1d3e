"""Push notices sent by the scale fakes (Google Calendar channel pings, Graph change
notifications and validation handshakes), on the fakes' own asyncio loop.

A fake decides to notify inside a request handler or a control call (a meeting added, an
event or a draft created); `Notifier.post` only schedules the delivery, so nothing waits
for the receiver on the loop's critical path. Each delivery waits the fake's `latency`
(the "network", as every answer does), is sent with httpx.AsyncClient, and is recorded:
who, what kind, why (`cause`: "meeting" for a change the benchmark made, "echo" for a change
followup's own write made, "sync" for a new channel's first message), when it was sent
(wall clock, so the benchmark can match it with the syncs of other processes) and the
receiver's status. A notice is "delivered" when the receiver answered 2xx.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import quote

import httpx

# At most this many deliveries in flight: a burst of meetings becomes a queue here, as at
# a provider's sender, instead of thousands of sockets at once.
MAX_IN_FLIGHT = 100
SEND_TIMEOUT = 10.0


class Notifier:
    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None
        self._slots: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()
        self.sent: list[dict[str, Any]] = []  # one record per notice, in sending order
        self.validations: Counter[str] = Counter()  # "ok" | "failed"

    def bind(self) -> None:
        """Called on the loop (any request handler): later posts from other threads find it."""
        if self.loop is None:
            self.loop = asyncio.get_running_loop()

    def post(self, url: str, *, user: str, kind: str, cause: str,
             headers: dict[str, str] | None = None, json: Any = None) -> None:
        """Send a notice soon; safe from any thread once bound. Without a loop (a fake
        driven without serve.py and never asked for a channel) there is nobody to notify."""
        if self.loop is None:
            return
        self.loop.call_soon_threadsafe(self._spawn, url, user, kind, cause, headers, json)

    def _spawn(self, url: str, user: str, kind: str, cause: str,
               headers: dict[str, str] | None, json: Any) -> None:
        task = asyncio.ensure_future(self._send(url, user, kind, cause, headers, json))
        self._tasks.add(task)  # a reference until done: the loop keeps only weak ones
        task.add_done_callback(self._tasks.discard)

    def _http(self) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        if self._client is None or self._slots is None:
            self._client = httpx.AsyncClient(timeout=SEND_TIMEOUT, limits=httpx.Limits(
                max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT))
            self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        return self._client, self._slots

    async def _send(self, url: str, user: str, kind: str, cause: str,
                    headers: dict[str, str] | None, json: Any) -> None:
        client, slots = self._http()
        await asyncio.sleep(self.latency)
        async with slots:
            sent = time.time()
            try:
                r = await client.post(url, headers=headers, json=json)
                status = r.status_code
            except httpx.HTTPError:
                status = 0
            record = {"user": user, "kind": kind, "cause": cause, "sent": sent,
                      "status": status, "seconds": round(time.time() - sent, 4)}
        with self._lock:
            self.sent.append(record)

    def record(self, record: dict[str, Any]) -> None:
        """A notice delivered some other way than an HTTP post from here (Gmail's, pulled
        from the Pub/Sub fake): the same fields as `_send` records."""
        with self._lock:
            self.sent.append(record)

    async def validate(self, url: str) -> bool:
        """Graph's handshake: POST ?validationToken=... and expect it back as plain text,
        200, within 10 seconds."""
        client, _ = self._http()
        token = "Validation: " + secrets.token_hex(8)
        try:
            r = await client.post(f"{url}?validationToken={quote(token)}", content=b"",
                                  headers={"Content-Type": "text/plain; charset=utf-8"},
                                  timeout=10.0)
            ok = r.status_code == 200 and r.text == token
        except httpx.HTTPError:
            ok = False
        self.validations["ok" if ok else "failed"] += 1
        return ok

    def since(self, index: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.sent[index:])

    def summary(self) -> dict[str, Any]:
        """Notices by kind and cause (delivered: answered 2xx), failures, handshakes."""
        with self._lock:
            sent = list(self.sent)
        delivered: Counter[str] = Counter()
        failed: Counter[str] = Counter()
        for r in sent:
            key = f"{r['kind']}/{r['cause']}"
            (delivered if 200 <= r["status"] < 300 else failed)[key] += 1
        return {"sent": len(sent), "delivered": sum(delivered.values()),
                "by_kind": dict(delivered), "failed": dict(failed),
                "in_flight": len(self._tasks), "validations": dict(self.validations)}

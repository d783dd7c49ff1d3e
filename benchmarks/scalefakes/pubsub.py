"""Cloud Pub/Sub for the scale fakes: Gmail `users.watch` notices delivered to a PULL
subscription, on the fakes' asyncio loop (serve.py serves `app` on a port of its own).

The REST surface google-cloud-pubsub's REST transport uses, as followup's ingest reads it
(src/followup/push/pubsub.py: SubscriberClient(transport="rest"), `pull` then `acknowledge`,
the endpoint given by --pubsub-endpoint, anonymous credentials on http://):

    POST /v1/projects/P/subscriptions/S:pull         {"maxMessages": n}
    POST /v1/projects/P/subscriptions/S:acknowledge  {"ackIds": [...]}

The queue's rules (ack deadline, a fresh ackId per delivery, redelivery of what was not
acknowledged in time) are tests/push/fake_pubsub.py's FakePubSub, reused without its
threaded server: here an empty pull is held on the loop (no thread, no CPU) until a message
is published or `HOLD` seconds pass, as a real pull without returnImmediately waits.

Every acknowledged message is recorded in the Google fake's Notifier log (kind "gmail", the
cause the publisher gave, `sent` = publish time, `seconds` = publish -> acknowledge), so the
benchmark's notice tables and notice -> sync lag cover Gmail as they cover Calendar pings.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.scalefakes.push import Notifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

_TESTS = Path(__file__).resolve().parents[2] / "tests"
if str(_TESTS) not in sys.path:
    sys.path.insert(0, str(_TESTS))

from push.fake_pubsub import FakePubSub  # noqa: E402 - the push tests' queue rules

PROJECT = "scale"
TOPIC = f"projects/{PROJECT}/topics/gmail"
SUBSCRIPTION = f"projects/{PROJECT}/subscriptions/followup-ingest"
HOLD = 10.0  # an empty pull waits this long for a message (ingest pulls again at once)
ACK_DEADLINE = 10.0


class _Queues(FakePubSub):
    """FakePubSub's subscriptions and pull/ack rules, without its HTTP server: the scale
    fake serves them from its own loop. Its `_pull` is called with hold 0 (never sleeps):
    the waiting is done here, asynchronously."""

    def __init__(self) -> None:  # not super().__init__: that starts a server thread
        self.ack_deadline = ACK_DEADLINE
        self.hold = 0.0
        self.lock = threading.Lock()
        self.subscriptions = {}
        self.ids = itertools.count(1)
        self.pulls = 0
        self.acks = 0


class PubSubScaleFake:
    def __init__(self, notifier: Notifier, *, latency: float = 0.1, hold: float = HOLD) -> None:
        self.notifier = notifier
        self.latency = latency
        self.hold = hold
        self.queues = _Queues()
        self.topics: dict[str, list[str]] = {}  # topic -> its subscriptions
        self.meta: dict[tuple[str, str], tuple[str, str, float]] = {}  # (sub, id) -> user,
        self.published = 0  #                                            cause, publish time
        self.dropped = 0  # published to a topic nobody subscribes to: lost, as at Google
        self.pulls = 0  # pull requests answered (FakePubSub's `pulls` counts each look)
        self._arrived: dict[str, asyncio.Event] = {}  # subscription -> a pull waiting
        self.loop: asyncio.AbstractEventLoop | None = None
        self.add_subscription(TOPIC, SUBSCRIPTION)
        self.app = Starlette(routes=[Route("/v1/{name:path}", self._serve, methods=["POST"])])

    def add_subscription(self, topic: str, subscription: str) -> None:
        self.queues.create_subscription(subscription)
        subs = self.topics.setdefault(topic, [])
        if subscription not in subs:
            subs.append(subscription)

    def publish(self, topic: str, data: dict[str, Any], *, user: str, cause: str) -> None:
        """What Gmail does on a watched mailbox's change: the message goes to each of the
        topic's subscriptions. Safe from any thread; pulls waiting on the loop are woken."""
        subs = self.topics.get(topic, [])
        raw = json.dumps(data).encode()
        sent = time.time()
        with self.queues.lock:
            self.published += 1
            if not subs:
                self.dropped += 1
        for sub in subs:
            mid = self.queues.publish(sub, raw)
            with self.queues.lock:
                self.meta[(sub, mid)] = (user, cause, sent)
            if self.loop is not None:
                self.loop.call_soon_threadsafe(self._wake, sub)

    def _wake(self, subscription: str) -> None:
        event = self._arrived.pop(subscription, None)
        if event is not None:
            event.set()

    def counts(self) -> dict[str, Any]:
        with self.queues.lock:
            pending = sum(len(q) for q in self.queues.subscriptions.values())
            return {
                "published": self.published,
                "dropped": self.dropped,
                "pending": pending,
                "pulls": self.pulls,
                "acks": self.queues.acks,
            }

    # --- HTTP ----------------------------------------------------------------------------

    async def _serve(self, request: Request) -> Response:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return _error(400, "INVALID_ARGUMENT", "Invalid JSON payload")
        name, _, verb = request.path_params["name"].rpartition(":")
        if name not in self.queues.subscriptions:
            await asyncio.sleep(self.latency)
            return _error(404, "NOT_FOUND", "Resource not found (resource=subscription).")
        if verb == "pull":
            self.pulls += 1
            status, answer = await self._pull(name, body)
        elif verb == "acknowledge":
            status, answer = self._ack(name, body)
        else:
            status, answer = (
                404,
                {"error": {"code": 404, "status": "NOT_FOUND", "message": f"no method {verb}"}},
            )
        await asyncio.sleep(self.latency)
        return JSONResponse(answer, status)

    async def _pull(self, name: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        deadline = time.monotonic() + self.hold
        while True:
            # Taken before looking, so a publish between the look and the wait wakes it.
            event = self._arrived.setdefault(name, asyncio.Event())
            status, answer = self.queues._pull(name, body)
            left = deadline - time.monotonic()
            if status != 200 or answer.get("receivedMessages") or left <= 0:
                return status, answer
            # Capped at a second: a message whose ack deadline passed is due again
            # without a publish to wake anyone.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(left, 1.0))

    def _ack(self, name: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        ids = set(body.get("ackIds") or [])
        with self.queues.lock:
            acked = [m.id for m in self.queues.subscriptions[name] if m.ack_id in ids]
        status, answer = self.queues._ack(name, body)
        now = time.time()
        for mid in acked:
            with self.queues.lock:
                user, cause, sent = self.meta.pop((name, mid))
            self.notifier.record(
                {
                    "user": user,
                    "kind": "gmail",
                    "cause": cause,
                    "sent": sent,
                    "status": 200,
                    "seconds": round(now - sent, 4),
                }
            )
        return status, answer


def _error(code: int, status: str, message: str) -> Response:
    return JSONResponse({"error": {"code": code, "message": message, "status": status}}, code)

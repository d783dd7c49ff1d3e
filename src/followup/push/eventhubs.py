"""Graph notices delivered to Azure Event Hubs (no public URL needed).

A Graph subscription whose notificationUrl is
`EventHub:https://<namespace>.servicebus.windows.net/eventhubname/<hub>?tenantId=<tenant>`
puts each notification collection into the hub as one event; its body is the same JSON a
webhook would get, so it goes through the same checks (notices.Notices.graph). There is no
validation handshake on this path. Checkpoints are not stored: a restarted process starts
at the latest event, and anything in between is caught by the safety poll. Within one
process a failure (namespace unreachable, key refused, a partition's link lost past the
client's own retries) closes the client and opens a new one after a back-off, each
partition resuming after the last event it gave.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import structlog

from followup.push.notices import Outcome

log = structlog.get_logger(__name__)


RETRY_MAX_SECONDS = 60.0


def handle_event_body(body: str | bytes, graph: Callable[[Any], Outcome]) -> Outcome | None:
    try:
        payload = json.loads(body)  # bytes: UTF-8 (or -16/-32) as JSON allows
    except ValueError:  # includes UnicodeDecodeError
        log.warning("push.unreadable_notice", source="eventhubs")
        return None
    return graph(payload)


def run_eventhub_consumer(
    connection_string: str,
    eventhub: str,
    consumer_group: str,
    graph: Callable[[Any], Outcome],
    stop: threading.Event,
    *,
    retry_seconds: float = 1.0,
) -> None:
    """Receive from all partitions until `stop` is set, reopening after failures."""
    positions: dict[str, int] = {}  # partition -> sequence number of the last event seen
    delay = retry_seconds
    while not stop.is_set():
        started = time.monotonic()
        error = _consume(connection_string, eventhub, consumer_group, graph, stop, positions)
        if error is None or stop.is_set():
            return
        if time.monotonic() - started > RETRY_MAX_SECONDS:
            delay = retry_seconds  # it had been working: the back-off starts over
        log.warning(
            "push.eventhubs_failed",
            error=type(error).__name__,
            detail=str(error)[:300],
            retry_in=delay,
        )
        stop.wait(delay)
        delay = min(delay * 2, RETRY_MAX_SECONDS)


def _consume(
    connection_string: str,
    eventhub: str,
    consumer_group: str,
    graph: Callable[[Any], Outcome],
    stop: threading.Event,
    positions: dict[str, int],
) -> Exception | None:
    """One client's run: None when stopped, else what ended it."""
    from azure.eventhub import EventHubConsumerClient

    # retry_total=0: the client's own retries (seconds of back-off per call) cannot be
    # interrupted by close(), so a stop would wait them out; the loop above retries.
    client = EventHubConsumerClient.from_connection_string(
        connection_string, consumer_group=consumer_group, eventhub_name=eventhub, retry_total=0
    )
    failures: list[Exception] = []
    returned = threading.Event()

    def on_event(partition_context: Any, event: Any) -> None:
        if event is None:
            return
        positions[partition_context.partition_id] = event.sequence_number
        try:
            handle_event_body(_body(event), graph)
        except Exception:
            log.exception("push.notice_failed", source="eventhubs")

    def on_error(partition_context: Any, error: Exception) -> None:
        failures.append(error)

    def closer() -> None:
        # receive() only returns once the client is closed; a close() that lands before
        # receive() has started its processor is not seen by it, so close again until
        # receive() has returned.
        while not returned.wait(0.2):
            if stop.is_set() or failures:
                client.close()

    threading.Thread(target=closer, daemon=True, name="eventhubs-close").start()
    try:
        # Asked first, outside receive(): while receive() has no partition to read (its
        # management request failing, retried every 30 s) it spins a core.
        start = _starting_positions(client.get_partition_ids(), positions)
        if not stop.is_set():
            client.receive(on_event=on_event, on_error=on_error, starting_position=start)
    except Exception as error:
        failures.append(error)
    finally:
        returned.set()
        client.close()
    if stop.is_set():
        return None
    # receive() ending on its own, without an error, would leave ingest without a consumer.
    return failures[0] if failures else RuntimeError("the Event Hubs receive loop ended")


def _starting_positions(partitions: list[str], positions: dict[str, int]) -> dict[str, Any]:
    """After the last event seen, else the latest. Every partition is named: one left out
    of a dict starts at the beginning of the hub's retention."""
    return {p: positions.get(p, "@latest") for p in partitions}


def _body(event: Any) -> bytes:
    from azure.eventhub.amqp import AmqpMessageBodyType

    if event.body_type != AmqpMessageBodyType.DATA:
        return b""  # Graph sends data sections; anything else is unreadable here
    return b"".join(event.body)

"""Graph notices delivered to Azure Event Hubs (no public URL needed).

A Graph subscription whose notificationUrl is
`EventHub:https://<namespace>.servicebus.windows.net/eventhubname/<hub>?tenantId=<tenant>`
puts each notification collection into the hub as one event; its body is the same JSON a
webhook would get, so it goes through the same checks (notices.Notices.graph). There is no
validation handshake on this path. Checkpoints are not kept: a restarted consumer starts
at the latest event, and anything in between is caught by the safety poll.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import structlog

from followup.push.notices import Outcome

log = structlog.get_logger(__name__)


def handle_event_body(body: str, graph: Callable[[Any], Outcome]) -> Outcome | None:
    try:
        payload = json.loads(body)
    except ValueError:
        log.warning("push.unreadable_notice", source="eventhubs")
        return None
    return graph(payload)


def run_eventhub_consumer(connection_string: str, eventhub: str, consumer_group: str,
                          graph: Callable[[Any], Outcome], stop: threading.Event) -> None:
    """Receive until `stop` is set (azure-eventhub's consumer, all partitions)."""
    from azure.eventhub import EventHubConsumerClient

    client = EventHubConsumerClient.from_connection_string(
        connection_string, consumer_group=consumer_group, eventhub_name=eventhub)

    def on_event(partition_context: Any, event: Any) -> None:
        if event is None:
            return
        try:
            handle_event_body(event.body_as_str(encoding="UTF-8"), graph)
        except Exception:
            log.exception("push.notice_failed", source="eventhubs")

    def closer() -> None:
        stop.wait()
        client.close()

    threading.Thread(target=closer, daemon=True, name="eventhubs-close").start()
    with client:
        client.receive(on_event=on_event, starting_position="@latest",
                       max_wait_time=5)

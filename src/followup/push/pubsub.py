"""Gmail notices from a Cloud Pub/Sub pull subscription (no public URL needed).

google-cloud-pubsub's SubscriberClient with its REST transport and synchronous `pull`:
the same at-least-once semantics as streaming pull, over HTTPS/JSON, so a local HTTP fake
can serve it in tests (the gRPC streaming surface cannot be faked without a gRPC server of
the Pub/Sub service). Messages are acknowledged right after their wake-up is queued; a
message that cannot be read is acknowledged too (redelivering it would not make it
readable); a crash between pull and ack means a redelivery, i.e. one more coalesced
wake-up, never a lost one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import structlog

from followup.push.notices import Outcome

log = structlog.get_logger(__name__)

MAX_MESSAGES = 100
PULL_TIMEOUT = 30.0


def subscriber_client(endpoint: str | None = None, credentials: Any = None) -> Any:
    """A SubscriberClient on the REST transport; `endpoint` (http://host:port) for a
    local server, else Google's, with `credentials` or the application default ones."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.pubsub_v1 import SubscriberClient

    options = ClientOptions(api_endpoint=endpoint) if endpoint else None
    if credentials is None and endpoint and endpoint.startswith("http://"):
        credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
    return SubscriberClient(transport="rest", client_options=options, credentials=credentials)


def pull_once(client: Any, subscription: str, handle: Callable[[bytes], Outcome], *,
              max_messages: int = MAX_MESSAGES, timeout: float = PULL_TIMEOUT) -> int:
    """One pull; each message handled then all acknowledged. Returns how many."""
    response = client.pull(request={"subscription": subscription,
                                    "max_messages": max_messages}, timeout=timeout)
    ack_ids = []
    for received in response.received_messages:
        try:
            handle(bytes(received.message.data))
        except Exception:  # one bad message must not hold back the others
            log.exception("push.notice_failed", source="gmail")
        ack_ids.append(received.ack_id)
    if ack_ids:
        client.acknowledge(request={"subscription": subscription, "ack_ids": ack_ids})
    return len(ack_ids)


def run_pull_loop(client: Any, subscription: str, handle: Callable[[bytes], Outcome],
                  stop: threading.Event, *, idle_wait: float = 1.0) -> None:
    """Pull until `stop` is set; errors back off up to a minute (the poll covers gaps)."""
    backoff = idle_wait
    while not stop.is_set():
        try:
            pull_once(client, subscription, handle)
            backoff = idle_wait
        except Exception as e:  # network, quota, a subscription deleted by an admin
            log.warning("push.pubsub_pull_failed", error=type(e).__name__, seconds=backoff)
            stop.wait(backoff)
            backoff = min(60.0, backoff * 2)

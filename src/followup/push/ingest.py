"""The `followup ingest` process: webhooks, the pull consumers and the renewal loop."""

from __future__ import annotations

import threading
from typing import Any

import structlog
from sqlalchemy.engine import Engine

from followup.company.store import AccountStore
from followup.push.channels import ChannelStore
from followup.push.notices import Notices, Waker
from followup.push.orgstore import OrgStore
from followup.push.renew import PushSettings, Renewer

log = structlog.get_logger(__name__)


class Ingest:
    def __init__(self, url: str, engine: Engine, settings: PushSettings, *,
                 waker: Waker | None = None) -> None:
        self.engine = engine
        self.channels = ChannelStore(engine)
        self.renewer = Renewer(engine, AccountStore(engine), self.channels, OrgStore(engine),
                               settings)
        self._queue: Any = None
        if waker is None:
            from followup.push.wake import QueueWaker

            self._queue = QueueWaker(url)
            waker = self._queue
        self.notices = Notices(self.channels, waker, on_reauthorize=self.renewer.reauthorize)

    def metrics(self) -> str:
        from followup.push.admin import prometheus

        return prometheus(self.channels.status())

    def app(self) -> Any:
        from followup.push.webhook import make_webhook_app

        return make_webhook_app(self.notices, metrics=self.metrics)

    def renew_loop(self, every: float, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.renewer.run_once()
            except Exception:
                log.exception("push.renew_round_failed")
            self.renewer.kick.wait(every)
            self.renewer.kick.clear()

    def serve(self, host: str, port: int, *, pubsub: str | None, pubsub_endpoint: str | None,
              eventhub: tuple[str | None, str | None, str], renew_seconds: float,
              stop: threading.Event) -> None:
        import uvicorn

        if self._queue is not None:
            self._queue.open()
        threads = [threading.Thread(target=self.renew_loop, args=(renew_seconds, stop),
                                    daemon=True, name="push-renew")]
        if pubsub:
            from followup.push.pubsub import run_pull_loop, subscriber_client

            client = subscriber_client(pubsub_endpoint)
            threads.append(threading.Thread(target=run_pull_loop, args=(
                client, pubsub, self.notices.gmail, stop), daemon=True, name="push-pubsub"))
        connection, hub, group = eventhub
        if connection and hub:
            from followup.push.eventhubs import run_eventhub_consumer

            threads.append(threading.Thread(target=run_eventhub_consumer, args=(
                connection, hub, group, self.notices.graph, stop), daemon=True,
                name="push-eventhubs"))
        for t in threads:
            t.start()
        log.info("ingest.started", host=host, port=port, pubsub=bool(pubsub),
                 eventhubs=bool(connection and hub))
        try:
            uvicorn.run(self.app(), host=host, port=port, log_level="warning",
                        access_log=False)
        finally:
            stop.set()
            if self._queue is not None:
                self._queue.close()

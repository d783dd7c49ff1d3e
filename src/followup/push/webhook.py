"""The webhook receiver: Calendar channel pings and Graph change/lifecycle notifications.

Every notice is answered at once (Google wants a 2xx, Graph a 2xx within 3 seconds or it
retries and eventually drops the subscription); checking it and queueing the sync happen
after the answer (a Starlette background task). The answer never says whether a notice
was accepted: a forger learns nothing.

Graph's validation handshake: on creating (or renewing) a subscription Graph POSTs
`?validationToken=...` to the notification and lifecycle URLs and expects the token back,
decoded, as text/plain with a 200 within 10 seconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from followup.push.notices import Notices
from followup.push.paths import CALENDAR_PATH, GRAPH_LIFECYCLE_PATH, GRAPH_PATH

log = structlog.get_logger(__name__)

# Larger bodies are refused unread (a Graph collection of notices is a few KB).
MAX_BODY = 1 << 20


def make_webhook_app(notices: Notices, *,
                     metrics: Callable[[], str] | None = None) -> Starlette:
    def _safe(fn: Callable[[], Any], source: str) -> None:
        try:
            fn()
        except Exception:  # a bad notice or a database hiccup: logged, the poll covers it
            log.exception("push.notice_failed", source=source)

    async def calendar(request: Request) -> Response:
        headers = dict(request.headers)
        return Response(status_code=200, background=BackgroundTask(
            _safe, lambda: notices.calendar(headers), "calendar"))

    async def graph(request: Request) -> Response:
        token = request.query_params.get("validationToken")
        if token is not None:  # the handshake: echo the token, decoded, as plain text
            return PlainTextResponse(token, status_code=200)
        body = await request.body()
        if len(body) > MAX_BODY:
            return Response(status_code=413)
        try:
            payload = json.loads(body)
        except ValueError:
            log.warning("push.unreadable_notice", source="graph")
            return Response(status_code=202)
        return Response(status_code=202, background=BackgroundTask(
            _safe, lambda: notices.graph(payload), "graph"))

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def prometheus(request: Request) -> Response:
        text = metrics() if metrics is not None else ""
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    return Starlette(routes=[
        Route(CALENDAR_PATH, calendar, methods=["POST"]),
        Route(GRAPH_PATH, graph, methods=["POST"]),
        Route(GRAPH_LIFECYCLE_PATH, graph, methods=["POST"]),
        Route("/healthz", health, methods=["GET"]),
        Route("/metrics", prometheus, methods=["GET"]),
    ])

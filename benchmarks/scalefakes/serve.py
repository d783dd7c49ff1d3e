"""Serve the Google and Microsoft Graph scale fakes, and a JSON control API, in ONE process on
ONE asyncio loop (a uvicorn.Server per app), so the fakes' own CPU is one process's.

    python benchmarks/scalefakes/serve.py [--latency 0.1] [--dir DIR]

Prints one JSON line on stdout once every port listens:
    {"control": "http://127.0.0.1:P", "google": "http://127.0.0.1:Q",
     "microsoft": "https://127.0.0.1:R" or null, "pubsub": "http://127.0.0.1:S",
     "gmail_topic": "projects/scale/topics/gmail",
     "pubsub_subscription": "projects/scale/subscriptions/followup-ingest", "pid": N}
Graph is served when benchmarks/scalefakes/graph.py is there (its `make_fake` and `tls`).

Control API (JSON in, JSON out; never delayed, never counted):
    GET  /info                       the line above, plus the latency
    POST /users    {"kind": "google"|"microsoft", "users": [[name, email], ...]}
                   -> {"accounts": {name: {"config": {...}, "credential": {suffix: base64}}}}
    POST /meetings {"meetings": [{"user": name, **Meeting.to_json()}, ...]} -> {"added": n}
    POST /mail     {"mails": [{"user": name, "from": addr, "subject": s}, ...]}
                   -> {"added": n}  an inbound mail in each (Google) user's Inbox
    POST /storm    {"users": [...], "seconds": s}   429 + Retry-After for s seconds
    POST /revoke   {"users": [...]}                 invalid_grant from now on
    GET  /counts[?per_user=1]  -> {"google": counts, "microsoft": counts, "requests": total,
                                   "cpu_s": this process's CPU seconds, "uptime_s": ...}
    POST /written  {"users": [...]} -> {name: {"draft": [...], "contact": [...], ...}}
    POST /apps     {"tenant": name} -> {"credential": {...}}   (Graph) an app registration
                   with a certificate, consented, for an organisation-wide grant
    GET  /notices?since=A,B -> {"notices": [{"user", "kind", "cause", "sent", "status",
                   "seconds"}, ...], "next": "C,D"}  push notices sent, per fake from offset
    POST /stop

Push (company_scale.py --push): Calendar channels and Graph subscriptions created through the
fakes' APIs notify the webhook they name, from this loop (push.Notifier), when a user's
calendar or mailbox changes; a Gmail users.watch publishes to the Pub/Sub fake (pubsub.py,
the "pubsub" URL: one topic and one pull subscription, named in the line above) that
`followup ingest --pubsub-endpoint` pulls from; /counts gives each fake's "notices" summary
and "channels" (Google: "gmail_watches" and "pubsub" too).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import importlib
import inspect
import json
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run by path: the repository root makes `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import uvicorn
from benchmarks.scalefakes.control import Meeting, ScaleFake
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to the process: several share one loop, and
    each would otherwise take SIGTERM for itself alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _listen() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


def _graph_module() -> Any | None:
    try:
        return importlib.import_module("benchmarks.scalefakes.graph")
    except ModuleNotFoundError as e:
        if e.name != "benchmarks.scalefakes.graph":
            raise  # graph.py is there but something it imports is not: say so
        return None


class Control:
    def __init__(self, fakes: dict[str, ScaleFake], info: dict[str, Any]) -> None:
        self.fakes = fakes
        self.info = info
        self.owner: dict[str, ScaleFake] = {}  # user -> its fake
        self.started = time.monotonic()
        self.stop = asyncio.Event()
        self.app = Starlette(routes=[
            Route("/info", self.get_info),
            Route("/users", self.users, methods=["POST"]),
            Route("/meetings", self.meetings, methods=["POST"]),
            Route("/mail", self.mail, methods=["POST"]),
            Route("/storm", self.storm, methods=["POST"]),
            Route("/revoke", self.revoke, methods=["POST"]),
            Route("/counts", self.counts),
            Route("/written", self.written, methods=["POST"]),
            Route("/apps", self.apps, methods=["POST"]),
            Route("/notices", self.notices),
            Route("/stop", self.stop_now, methods=["POST"]),
        ])

    async def get_info(self, request: Request) -> JSONResponse:
        return JSONResponse(self.info)

    async def users(self, request: Request) -> JSONResponse:
        body = await request.json()
        fake = self.fakes.get(body["kind"])
        if fake is None:
            return JSONResponse({"error": f"no {body['kind']} fake here"}, 400)
        out = {}
        for name, addr in body["users"]:
            config, files = fake.add_user(name, addr)
            self.owner[name] = fake
            out[name] = {"config": config, "credential": {
                k: base64.b64encode(v).decode("ascii") for k, v in files.items()}}
        return JSONResponse({"accounts": out})

    async def meetings(self, request: Request) -> JSONResponse:
        body = await request.json()
        for m in body["meetings"]:
            self.owner[m["user"]].add_meeting(m["user"], Meeting.from_json(m))
        return JSONResponse({"added": len(body["meetings"])})

    async def mail(self, request: Request) -> JSONResponse:
        body = await request.json()
        added = 0
        for m in body["mails"]:
            fake = self.owner[m["user"]]
            if hasattr(fake, "add_mail"):  # Graph's fake has no inbound mail
                fake.add_mail(m["user"], m["from"], m.get("subject", "Hello"))
                added += 1
        return JSONResponse({"added": added})

    def _split(self, users: list[str]) -> dict[int, tuple[ScaleFake, set[str]]]:
        by: dict[int, tuple[ScaleFake, set[str]]] = {}
        for name in users:
            fake = self.owner[name]
            by.setdefault(id(fake), (fake, set()))[1].add(name)
        return by

    async def storm(self, request: Request) -> JSONResponse:
        body = await request.json()
        until = time.monotonic() + float(body["seconds"])
        for fake, names in self._split(body["users"]).values():
            fake.storm(names, until)
        return JSONResponse({"storm": len(body["users"])})

    async def revoke(self, request: Request) -> JSONResponse:
        body = await request.json()
        for fake, names in self._split(body["users"]).values():
            fake.revoke(names)
        return JSONResponse({"revoked": len(body["users"])})

    async def counts(self, request: Request) -> JSONResponse:
        per_user = request.query_params.get("per_user") == "1"
        out: dict[str, Any] = {"requests": 0}
        for kind, fake in self.fakes.items():
            c = fake.counts()
            out["requests"] += c.get("requests", 0)
            if not per_user:
                c["users_seen"] = len(c.pop("users", {}))
            out[kind] = c
        out["cpu_s"] = time.process_time()
        out["uptime_s"] = time.monotonic() - self.started
        return JSONResponse(out)

    async def written(self, request: Request) -> JSONResponse:
        body = await request.json()
        return JSONResponse({name: self.owner[name].written(name) for name in body["users"]})

    async def apps(self, request: Request) -> JSONResponse:
        body = await request.json()
        fake = self.fakes.get("microsoft")
        if fake is None or not hasattr(fake, "add_app"):
            return JSONResponse({"error": "no Graph fake with app registrations here"}, 400)
        return JSONResponse({"credential": fake.add_app(body["tenant"])})

    async def notices(self, request: Request) -> JSONResponse:
        """The notices sent so far by every fake, from the `since`th on (per fake: `next`
        is a list of per-fake offsets, joined by commas, to pass back)."""
        since = [int(x) for x in request.query_params.get("since", "").split(",") if x]
        out: list[dict[str, Any]] = []
        offsets = []
        for i, fake in enumerate(self.fakes.values()):
            notifier = getattr(fake, "notifier", None)
            start = since[i] if i < len(since) else 0
            got = notifier.since(start) if notifier is not None else []
            out += got
            offsets.append(str(start + len(got)))
        out.sort(key=lambda r: r["sent"])
        return JSONResponse({"notices": out, "next": ",".join(offsets)})

    async def stop_now(self, request: Request) -> JSONResponse:
        self.stop.set()
        return JSONResponse({"stopping": True})


async def serve(latency: float, directory: Path) -> None:
    from benchmarks.scalefakes.google import make_fake as make_google
    from benchmarks.scalefakes.pubsub import SUBSCRIPTION, TOPIC

    socks = {"control": _listen(), "google": _listen(), "pubsub": _listen()}
    fakes: dict[str, ScaleFake] = {
        "google": make_google(f"http://127.0.0.1:{socks['google'].getsockname()[1]}",
                              latency=latency)}
    graph = _graph_module()
    ssl_ctx = None
    if graph is not None:
        socks["microsoft"] = _listen()
        ssl_ctx, ca_file = graph.tls(directory)
        url = f"https://127.0.0.1:{socks['microsoft'].getsockname()[1]}"
        kwargs: dict[str, Any] = {"latency": latency}
        if "ca_bundle" in inspect.signature(graph.make_fake).parameters:
            kwargs["ca_bundle"] = str(ca_file)
        fakes["microsoft"] = graph.make_fake(url, **kwargs)
    info = {"control": f"http://127.0.0.1:{socks['control'].getsockname()[1]}",
            "google": f"http://127.0.0.1:{socks['google'].getsockname()[1]}",
            "microsoft": (f"https://127.0.0.1:{socks['microsoft'].getsockname()[1]}"
                          if "microsoft" in socks else None),
            "pubsub": f"http://127.0.0.1:{socks['pubsub'].getsockname()[1]}",
            "gmail_topic": TOPIC, "pubsub_subscription": SUBSCRIPTION,
            "pid": os.getpid(), "latency": latency}
    control = Control(fakes, info)
    apps = {"control": control.app, **{k: f.app for k, f in fakes.items()},
            "pubsub": fakes["google"].pubsub.app}  # type: ignore[attr-defined]
    servers = []
    for name, app in apps.items():
        # No access log, no server header, no lifespan: each line or hook is CPU the fake
        # would charge to itself; keep-alive long enough for a worker's pooled connection.
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                server_header=False, date_header=False,
                                timeout_keep_alive=120, backlog=4096)
        config.load()
        if name == "microsoft":
            config.ssl = ssl_ctx
        servers.append(_Server(config))
    loop = asyncio.get_running_loop()

    def stop() -> None:
        control.stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    tasks = [asyncio.create_task(s.serve(sockets=[socks[name]]))
             for s, name in zip(servers, apps, strict=True)]
    while not all(s.started for s in servers):
        await asyncio.sleep(0.02)
    print(json.dumps(info), flush=True)
    await control.stop.wait()
    for s in servers:
        s.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--latency", type=float, default=0.1, help="seconds before every answer")
    p.add_argument("--dir", type=Path, help="for the TLS files (default: a temporary folder)")
    args = p.parse_args()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="scalefakes-"))
    directory.mkdir(parents=True, exist_ok=True)
    asyncio.run(serve(args.latency, directory))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

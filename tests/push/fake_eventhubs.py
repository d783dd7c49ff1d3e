"""A local Event Hubs namespace over real AMQP 1.0, enough for azure-eventhub's
EventHubConsumerClient.receive: SASL ANONYMOUS, the `$cbs` put-token exchange (the SAS
token is checked against the namespace key), the `$management` node's READ of the hub and
of a partition, and receiver links on `<hub>/ConsumerGroups/<group>/Partitions/<id>` whose
selector filter (the starting position) decides where delivery starts.

The wire encoding is azure-eventhub's own pyamqp codec (the performatives, the message
sections): this file only keeps the server's side of the state (sessions, links, credit).
The client reaches it through a connection string with `UseDevelopmentEmulator=true`,
which azure-eventhub (>= 5.12) takes as "no TLS, and honour the endpoint's port".
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import re
import socket
import struct
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from typing import Any, cast

from azure.eventhub._pyamqp import performatives as perf
from azure.eventhub._pyamqp._decode import decode_frame, decode_payload
from azure.eventhub._pyamqp._encode import encode_frame, encode_payload
from azure.eventhub._pyamqp.constants import HEADER_FRAME, SASL_HEADER_FRAME
from azure.eventhub._pyamqp.endpoints import Source, Target
from azure.eventhub._pyamqp.message import Message, Properties
from azure.eventhub._pyamqp.outcomes import Accepted
from azure.eventhub._pyamqp.types import AMQPTypes

_SASL_FRAME = b"\x01"
_AMQP_FRAME = b"\x00"
SELECTOR_FILTER = b"apache.org:selector-filter:string"
_SELECTOR = re.compile(
    r"amqp\.annotation\.(x-opt-offset|x-opt-sequence-number|x-opt-enqueued-time) (>=?) '(.*)'"
)
_ENTITY = re.compile(r"^(?:amqps?://[^/]+)?/?([^/]+)/ConsumerGroups/([^/]+)/Partitions/([^/]+)$")
# Offsets are opaque strings to the client; here: a partition's byte position, as the
# service's are, so that an offset is not mistaken for a sequence number.
_OFFSET_STEP = 1000


@dataclass
class Stored:
    sequence_number: int
    offset: int
    enqueued_ms: int
    body: bytes


@dataclass
class ReceiverSeen:
    """A receiver link the client attached to a partition (what a test can assert on)."""

    hub: str
    consumer_group: str
    partition: str
    selector: str
    attached: bool = True


@dataclass
class _Link:
    handle: int
    role_is_receiver: bool  # the client's role: True = it receives, we send
    address: str
    credit: int = 0
    delivery_count: int = 0
    pending: deque[Stored] = field(default_factory=deque)
    seen: ReceiverSeen | None = None
    partial: bytearray = field(default_factory=bytearray)


@dataclass
class _Session:
    channel: int
    links: dict[int, _Link] = field(default_factory=dict)
    next_outgoing_id: int = 0
    next_incoming_id: int = 0


class _Closed(Exception):
    pass


def _long(value: int) -> dict[str, Any]:
    return {"TYPE": AMQPTypes.long, "VALUE": value}


def _timestamp(ms: int) -> dict[str, Any]:
    return {"TYPE": AMQPTypes.timestamp, "VALUE": ms}


def _string(value: str) -> dict[str, Any]:
    return {"TYPE": AMQPTypes.string, "VALUE": value}


class FakeEventHubs:
    """One namespace with one hub. `publish` puts an event in a partition; what the client
    did is kept in `sasl_mechanisms`, `cbs_audiences`, `cbs_rejected`, `management` and
    `receivers`."""

    def __init__(
        self,
        hub: str = "graph-notices",
        partitions: tuple[str, ...] = ("0", "1"),
        key_name: str = "listen",
        key: str = "c2VjcmV0LWtleS1mb3ItdGVzdHM=",
    ) -> None:
        self.hub = hub
        self.partitions = partitions
        self.key_name = key_name
        self.key = key
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self._events: dict[str, list[Stored]] = {p: [] for p in partitions}
        self.sasl_mechanisms: list[str] = []
        self.cbs_audiences: list[str] = []
        self.cbs_rejected: list[str] = []
        self.management: list[tuple[str, str | None]] = []  # (type, partition)
        self.receivers: list[ReceiverSeen] = []
        self.connections_opened = 0
        self.connections_closed = 0
        self._conns: list[_Connection] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)  # accept() wakes to see `close`
        self.port = int(self._listener.getsockname()[1])
        self._closing = False
        self._thread = threading.Thread(target=self._accept, daemon=True, name="fake-eventhubs")
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def connection_string(self, *, key: str | None = None) -> str:
        return (
            f"Endpoint=sb://{self.endpoint};SharedAccessKeyName={self.key_name};"
            f"SharedAccessKey={key or self.key};UseDevelopmentEmulator=true"
        )

    # --- what a test does ----------------------------------------------------------------

    def publish(self, partition: str, body: bytes | str) -> int:
        """Enqueue one event; returns its sequence number. Delivered to attached receivers
        whose starting position is before it, within their credit."""
        data = body.encode() if isinstance(body, str) else body
        with self.lock:
            events = self._events[partition]
            seq = len(events)
            event = Stored(seq, seq * _OFFSET_STEP, int(time.time() * 1000), data)
            events.append(event)
            # Under the lock that receivers attach under: each gets it once, from the
            # store (attached before) or from here (attached after), never both.
            conns = [(conn, conn.queue(partition, event)) for conn in self._conns]
        for conn, links in conns:
            conn.pump(links)
        return seq

    def active_receivers(self) -> list[ReceiverSeen]:
        with self.lock:
            return [r for r in self.receivers if r.attached]

    def wait_receivers(self, count: int, timeout: float = 20.0) -> list[ReceiverSeen]:
        """Wait until `count` receiver links are attached (events published before a
        receiver attached at "@latest" are, rightly, never delivered to it)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                active = [r for r in self.receivers if r.attached]
                if len(active) >= count or time.monotonic() > deadline:
                    return active
                self.changed.wait(0.1)

    def drop_connections(self) -> None:
        """Cut every client connection at the socket, as a network failure would."""
        with self.lock:
            conns = list(self._conns)
        for conn in conns:
            conn.shutdown()

    def close(self) -> None:
        self._closing = True
        self._thread.join(5)
        self._listener.close()
        self.drop_connections()

    # --- the server ----------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closing:
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None)
            conn = _Connection(self, sock)
            with self.lock:
                self._conns.append(conn)
                self.connections_opened += 1
            threading.Thread(target=conn.run, daemon=True, name="fake-eventhubs-conn").start()

    def _forget(self, conn: _Connection) -> None:
        with self.changed:
            if conn in self._conns:
                self._conns.remove(conn)
                self.connections_closed += 1
            self.changed.notify_all()

    def start_index(self, partition: str, selector: str) -> int:
        """Where a receiver with this selector starts: the index of its first event."""
        match = _SELECTOR.fullmatch(selector)
        if match is None:
            raise ValueError(f"unsupported selector {selector!r}")
        what, op, value = match.groups()
        events = self._events[partition]
        if what == "x-opt-offset" and value == "@latest":
            return len(events)
        if what == "x-opt-offset" and value == "-1":
            return 0
        field = {
            "x-opt-offset": "offset",
            "x-opt-sequence-number": "sequence_number",
            "x-opt-enqueued-time": "enqueued_ms",
        }[what]
        bound = int(value)
        for i, event in enumerate(events):
            at = int(getattr(event, field))
            if at > bound or (op == ">=" and at == bound):
                return i
        return len(events)

    def check_token(self, token: str, audience: str) -> bool:
        """A SharedAccessSignature for `audience`, signed with this namespace's key."""
        if not token.startswith("SharedAccessSignature "):
            return False
        fields = dict(urllib.parse.parse_qsl(token[len("SharedAccessSignature ") :]))
        resource, expiry = fields.get("sr", ""), fields.get("se", "0")
        signed = (urllib.parse.quote_plus(resource) + "\n" + expiry).encode()
        expected = base64.b64encode(
            hmac.new(self.key.encode(), signed, hashlib.sha256).digest()
        ).decode()
        return (
            hmac.compare_digest(expected, fields.get("sig", ""))
            and fields.get("skn") == self.key_name
            and resource.rstrip("/") == audience.rstrip("/")
            and int(expiry) > time.time()
        )


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class _Connection:
    def __init__(self, server: FakeEventHubs, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.write_lock = threading.Lock()
        # Held from taking a delivery id to sending it (then server.lock, never the other
        # way): transfers leave in delivery-id order, events in partition order, whichever
        # thread (the publisher's, this reader's) sends them.
        self.outgoing = threading.RLock()
        self.sessions: dict[int, _Session] = {}

    # framing: an 8-byte header (size, doff=2, type, channel) before each performative
    def _read_exact(self, n: int) -> bytes:
        data = bytearray()
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise _Closed
            data += chunk
        return bytes(data)

    def _read_frame(self) -> tuple[int, int | None, list[Any]]:
        """(channel, performative code or None for an empty frame, fields)."""
        header = self._read_exact(8)
        size = struct.unpack(">I", header[:4])[0]
        channel = struct.unpack(">H", header[6:8])[0]
        if size == 8:
            return channel, None, []
        body = self._read_exact(size - 8)
        code, fields = decode_frame(memoryview(body))
        return channel, code, fields

    def send(self, channel: int, frame: Any, frame_type: bytes = _AMQP_FRAME) -> None:
        header, body = encode_frame(frame, frame_type=frame_type)
        data = header + struct.pack(">H", channel) + (body or b"")
        with self.write_lock:
            self.sock.sendall(data)

    def shutdown(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def run(self) -> None:
        try:
            self._handshake()
            while True:
                channel, code, fields = self._read_frame()
                if code is not None and self._dispatch(channel, code, fields):
                    return
        except (_Closed, OSError):
            pass
        finally:
            self._detach_all()
            self.sock.close()
            self.server._forget(self)

    def _handshake(self) -> None:
        if self._read_exact(8) != SASL_HEADER_FRAME:
            raise _Closed
        with self.write_lock:
            self.sock.sendall(SASL_HEADER_FRAME)
        self.send(0, perf.SASLMechanism(sasl_server_mechanisms=[b"ANONYMOUS"]), _SASL_FRAME)
        _, code, fields = self._read_frame()
        if code != 0x41:  # sasl-init
            raise _Closed
        with self.server.lock:
            self.server.sasl_mechanisms.append(_text(fields[0]))
        self.send(0, perf.SASLOutcome(code=0, additional_data=None), _SASL_FRAME)
        if self._read_exact(8) != HEADER_FRAME:
            raise _Closed
        with self.write_lock:
            self.sock.sendall(HEADER_FRAME)

    def _dispatch(self, channel: int, code: int, f: list[Any]) -> bool:
        """Handle one performative; True when the connection is done."""
        if code == 0x10:  # open
            self.send(
                0,
                perf.OpenFrame(
                    container_id="fake-eventhubs",
                    hostname=None,
                    max_frame_size=65536,
                    channel_max=255,
                    idle_timeout=None,
                    outgoing_locales=None,
                    incoming_locales=None,
                    offered_capabilities=None,
                    desired_capabilities=None,
                    properties=None,
                ),
            )
        elif code == 0x11:  # begin
            with self.server.lock:
                self.sessions[channel] = _Session(channel)
            self.send(
                channel,
                perf.BeginFrame(
                    remote_channel=channel,
                    next_outgoing_id=0,
                    incoming_window=65536,
                    outgoing_window=65536,
                    handle_max=255,
                    offered_capabilities=None,
                    desired_capabilities=None,
                    properties=None,
                ),
            )
        elif code in (0x12, 0x13, 0x14, 0x16) and channel in self.sessions:
            self._link_frame(self.sessions[channel], code, f)
        elif code == 0x17:  # end
            with self.server.lock:
                ended = self.sessions.pop(channel, _Session(channel))
            for link in ended.links.values():
                self._mark_detached(link)
            self.send(channel, perf.EndFrame(error=None))
        elif code == 0x18:  # close
            self.send(0, perf.CloseFrame(error=None))
            return True
        # Disposition (0x15): our transfers to the client are pre-settled. A link's frame
        # after its session's end (the client closes both at once) has nothing to act on.
        return False

    def _link_frame(self, session: _Session, code: int, f: list[Any]) -> None:
        if code == 0x12:
            self._attach(session, f)
        elif code == 0x13:
            self._flow(session, f)
        elif code == 0x14:
            self._transfer(session, f)
        else:  # detach
            with self.server.lock:
                detached = session.links.pop(f[0], None)
            self._mark_detached(detached)
            self.send(session.channel, perf.DetachFrame(handle=f[0], closed=True, error=None))

    def _attach(self, session: _Session, f: list[Any]) -> None:
        name, handle, client_receives = f[0], f[1], bool(f[2])
        source, target = f[5] or [], f[6] or []
        address = _text(source[0] if client_receives else target[0])
        link = _Link(handle, client_receives, address, delivery_count=f[9] or 0)
        with self.server.changed:
            if client_receives:
                self._open_receiver(link, source)
            session.links[handle] = link
            self.server.changed.notify_all()
        self.send(
            session.channel,
            perf.AttachFrame(
                name=name,
                handle=handle,
                role=not client_receives,
                send_settle_mode=f[3],
                rcv_settle_mode=f[4],
                source=Source._make([source[0] if source else None] + [None] * 10),
                target=Target._make([target[0] if target else None] + [None] * 6),
                unsettled=None,
                incomplete_unsettled=None,
                initial_delivery_count=0 if client_receives else None,
                max_message_size=1024 * 1024,
                offered_capabilities=None,
                desired_capabilities=None,
                properties=None,
            ),
        )
        if not client_receives:
            self._grant(session, link)

    def _open_receiver(self, link: _Link, source: list[Any]) -> None:
        entity = _ENTITY.match(link.address)
        if entity is None:  # $cbs / $management replies
            return
        hub, group, partition = entity.groups()
        filters = source[7] if len(source) > 7 and source[7] else {}
        selector = _text(filters.get(SELECTOR_FILTER, b"amqp.annotation.x-opt-offset > '-1'"))
        server = self.server  # its lock is held (_attach)
        start = server.start_index(partition, selector)
        link.pending.extend(server._events[partition][start:])
        link.seen = ReceiverSeen(hub, group, partition, selector)
        server.receivers.append(link.seen)

    def _mark_detached(self, link: _Link | None) -> None:
        if link is not None and link.seen is not None:
            with self.server.changed:
                link.seen.attached = False
                self.server.changed.notify_all()

    def _detach_all(self) -> None:
        with self.server.lock:
            links = [link for s in self.sessions.values() for link in s.links.values()]
        for link in links:
            self._mark_detached(link)

    def _grant(self, session: _Session, link: _Link) -> None:
        """Give a client's sender link credit (requests to $cbs and $management)."""
        self.send(
            session.channel,
            perf.FlowFrame(
                next_incoming_id=session.next_incoming_id,
                incoming_window=65536,
                next_outgoing_id=session.next_outgoing_id,
                outgoing_window=65536,
                handle=link.handle,
                delivery_count=link.delivery_count,
                link_credit=100,
                available=None,
                drain=None,
                echo=None,
                properties=None,
            ),
        )

    def _flow(self, session: _Session, f: list[Any]) -> None:
        handle, delivery_count, credit = f[4], f[5], f[6]
        link = session.links.get(handle) if handle is not None else None
        if link is None or not link.role_is_receiver:
            return
        with self.outgoing:
            # The receiver's credit counts from its delivery-count (AMQP 2.6.7).
            with self.server.lock:
                link.credit = (delivery_count or 0) + (credit or 0) - link.delivery_count
            self._pump(session, link)

    def queue(self, partition: str, event: Stored) -> list[tuple[_Session, _Link]]:
        """Queue a new event on this connection's receivers of `partition` (the server's
        lock is held); the links to pump."""
        links = [
            (session, link)
            for session in self.sessions.values()
            for link in session.links.values()
            if link.seen is not None and link.seen.partition == partition
        ]
        for _, link in links:
            link.pending.append(event)
        return links

    def pump(self, links: list[tuple[_Session, _Link]]) -> None:
        for session, link in links:
            self._pump(session, link)

    def _pump(self, session: _Session, link: _Link) -> None:
        with self.outgoing:
            while True:
                with self.server.lock:
                    if link.credit <= 0 or not link.pending:
                        return
                    event = link.pending.popleft()
                    link.credit -= 1
                message = Message(
                    data=[event.body],
                    message_annotations={
                        b"x-opt-sequence-number": _long(event.sequence_number),
                        b"x-opt-offset": _string(str(event.offset)),
                        b"x-opt-enqueued-time": _timestamp(event.enqueued_ms),
                    },
                )
                self._send_message(session, link, message)

    def _send_message(self, session: _Session, link: _Link, message: Message) -> None:
        with self.outgoing:
            delivery_id = session.next_outgoing_id
            session.next_outgoing_id += 1
            link.delivery_count += 1
            self._send_transfer(session, link, delivery_id, message)

    def _send_transfer(
        self, session: _Session, link: _Link, delivery_id: int, message: Message
    ) -> None:
        payload = bytes(encode_payload(bytearray(), message))
        # OSError: the client went away; its reader ends the connection.
        with contextlib.suppress(OSError):
            self.send(
                session.channel,
                perf.TransferFrame(
                    handle=link.handle,
                    delivery_id=delivery_id,
                    delivery_tag=struct.pack(">I", delivery_id),
                    message_format=0,
                    settled=True,
                    more=False,
                    payload=payload,
                ),
            )

    def _transfer(self, session: _Session, f: list[Any]) -> None:
        """A request on $cbs or $management: answer on the same session's reply link."""
        link = session.links[f[0]]
        session.next_incoming_id += 1
        link.partial += bytes(f[-1])
        if f[5]:  # more: the rest comes in the next frames
            return
        request = decode_payload(memoryview(bytes(link.partial)))
        link.partial = bytearray()
        link.delivery_count += 1
        if not f[4]:  # unsettled: the client waits for our disposition
            self.send(
                session.channel,
                perf.DispositionFrame(
                    role=True, first=f[1], last=f[1], settled=True, state=Accepted(), batchable=None
                ),
            )
        self._grant(session, link)
        props = {_text(k): v for k, v in (request.application_properties or {}).items()}
        if link.address == "$cbs":
            status, value = self._put_token(props, request.value)
        elif link.address == "$management":
            status, value = self._read(props)
        else:
            return
        reply = next(
            (x for x in session.links.values() if x.role_is_receiver and x.address == link.address),
            None,
        )
        if reply is None or request.properties is None:
            return
        self._send_message(
            session,
            reply,
            Message(
                properties=Properties(correlation_id=cast(Any, request.properties.message_id)),
                application_properties={
                    "status-code": status,
                    "status-description": "OK" if status < 300 else "Error",
                },
                value=value,
            ),
        )

    def _put_token(self, props: dict[str, Any], token: Any) -> tuple[int, Any]:
        audience = _text(props.get("name", b""))
        ok = self.server.check_token(_text(token or b""), audience)
        with self.server.lock:
            (self.server.cbs_audiences if ok else self.server.cbs_rejected).append(audience)
        return (202 if ok else 401), None

    def _read(self, props: dict[str, Any]) -> tuple[int, Any]:
        server = self.server
        kind = _text(props.get("type", b""))
        partition = _text(props["partition"]) if "partition" in props else None
        with server.lock:
            server.management.append((kind, partition))
            if _text(props.get("name", b"")) != server.hub:
                return 404, None
            if kind == "com.microsoft:eventhub":
                return 200, {
                    b"name": server.hub,
                    b"created_at": _timestamp(1_700_000_000_000),
                    b"partition_ids": list(server.partitions),
                }
            if kind == "com.microsoft:partition" and partition in server._events:
                events = server._events[partition]
                last = events[-1] if events else None
                return 200, {
                    b"name": server.hub,
                    b"partition": partition,
                    b"begin_sequence_number": _long(0),
                    b"last_enqueued_sequence_number": _long(last.sequence_number if last else -1),
                    b"last_enqueued_offset": _string(str(last.offset if last else -1)),
                    b"last_enqueued_time_utc": _timestamp(last.enqueued_ms if last else 0),
                    b"is_partition_empty": not events,
                }
        return 404, None

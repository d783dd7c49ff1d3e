"""Push tests: company tables on the local PostgreSQL (a schema per test), the real queue,
the real webhook app served by uvicorn on a local port."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from cryptography.fernet import Fernet
from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from followup.company.admin import init_database
from followup.company.crypto import KEY_ENV, MasterKeys
from followup.company.store import AccountStore
from followup.ledger.connect import make_engine
from followup.push import schema
from followup.push.channels import ChannelStore
from followup.push.ingest import Ingest
from followup.push.renew import PushSettings
from postgres_url import POSTGRES_URL, admin_connection


@pytest.fixture
def master_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv(KEY_ENV, key)
    return key


@pytest.fixture(scope="module")
def _module_db() -> Iterator[tuple[str, Engine]]:
    """One schema per test module (creating the ledger's, company's and queue's tables
    takes seconds); `db` empties it before each test."""
    admin = admin_connection()
    name = f"test_push_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        url = (make_url(POSTGRES_URL).update_query_dict(
            {"options": f"-csearch_path={name}", "application_name": name})
            .render_as_string(hide_password=False))
        engine = make_engine(url)
        try:
            init_database(url, engine)
            schema.ensure_schema(engine)
            yield url, engine
        finally:
            engine.dispose()
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                          "application_name = %s AND pid <> pg_backend_pid()", (name,))
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture
def db(_module_db: tuple[str, Engine], master_key: str) -> tuple[str, Engine]:
    url, engine = _module_db
    with engine.begin() as conn:
        tables = [t for t in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")).scalars()
            if "version" not in t]
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
    return url, engine


@pytest.fixture
def accounts(db: tuple[str, Engine], master_key: str) -> AccountStore:
    store = AccountStore(db[1], MasterKeys.from_text(master_key))
    store.add_tenant("acme", {})
    return store


@pytest.fixture
def channels(db: tuple[str, Engine]) -> ChannelStore:
    return ChannelStore(db[1])


def jobs(engine: Engine, account: str | None = None) -> list[Any]:
    """Sync jobs waiting, oldest first (the queue is the observable effect of a notice)."""
    with engine.begin() as conn:
        rows = conn.execute(text(
            "SELECT queueing_lock, args FROM procrastinate_jobs WHERE status = 'todo' "
            "AND task_name = 'followup.sync_account' ORDER BY id")).all()
    return [r for r in rows if account is None or r.queueing_lock == account]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    def __init__(self, ingest: Ingest) -> None:
        self.ingest = ingest
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(ingest.app(), host="127.0.0.1", port=port, log_level="error",
                                access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)


@pytest.fixture
def served(db: tuple[str, Engine], accounts: AccountStore) -> Iterator[Served]:
    """`followup ingest`'s parts: the webhook served for real, the real queue behind it.
    Settings' public URL is the server's own (the tests' stand-in for the HTTPS proxy)."""
    url, engine = db
    ingest = Ingest(url, engine, PushSettings())
    assert ingest._queue is not None
    ingest._queue.open()
    server = Served(ingest)
    ingest.renewer.settings.public_url = server.url
    yield server
    server.close()
    ingest._queue.close()


def wait_for(predicate: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)

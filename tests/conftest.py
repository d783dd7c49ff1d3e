"""Fixtures shared by every test package.

`ledger_url`: a fresh, empty ledger database, once on SQLite and once on PostgreSQL
(localhost:5432, db `test`, user postgres, a schema of its own per test). Without a reachable
PostgreSQL the postgres case skips, except in CI (env CI=true), where it fails.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from postgres_url import POSTGRES_URL, admin_connection


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a brand-new schema, dropped afterwards."""
    admin = admin_connection()
    schema = f"test_{uuid.uuid4().hex[:16]}"
    with admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        try:
            # application_name tags the test's connections, so teardown can end leftovers.
            query = {"options": f"-csearch_path={schema}", "application_name": schema}
            yield (
                make_url(POSTGRES_URL)
                .update_query_dict(query)
                .render_as_string(hide_password=False)
            )
        finally:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = %s AND pid <> pg_backend_pid()",
                (schema,),
            )
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file in a directory that does not exist yet (the ledger creates it)."""
    return f"sqlite:///{tmp_path / 'state' / 'ledger.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url

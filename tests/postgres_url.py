"""Where the tests' PostgreSQL is (a module of its own: test packages import it by name,
which a `conftest` cannot be relied on for, since every test folder may have one)."""

from __future__ import annotations

import os

import psycopg
import pytest
from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get(
    "FOLLOWUP_TEST_POSTGRES", "postgresql+psycopg://postgres@localhost:5432/test"
)


def admin_conninfo() -> str:
    # psycopg wants a libpq URL, without SQLAlchemy's "+psycopg" driver suffix.
    return make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)


def admin_connection() -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection to create and drop test schemas. PostgreSQL unreachable
    fails the test in CI (it must run there) and skips it elsewhere."""
    try:
        return psycopg.connect(admin_conninfo(), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI and unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")

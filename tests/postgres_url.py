"""Where the tests' PostgreSQL is (a module of its own: test packages import it by name,
which a `conftest` cannot be relied on for, since every test folder may have one)."""

from __future__ import annotations

import os

from sqlalchemy.engine import make_url

POSTGRES_URL = os.environ.get(
    "FOLLOWUP_TEST_POSTGRES", "postgresql+psycopg://postgres@localhost:5432/test"
)


def admin_conninfo() -> str:
    # psycopg wants a libpq URL, without SQLAlchemy's "+psycopg" driver suffix.
    return make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)

"""Opening a database: created at head, re-opened untouched, refused when newer."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from followup.ledger import Ledger, SchemaTooNewError
from followup.ledger.migrate import head_revision
from followup.ledger.schema import metadata
from followup.model import CalendarChanges, Meeting

from .conftest import T0

TABLES = {
    "alembic_version",
    "cursors",
    "meetings",
    "processed",
    "series",
    "series_members",
    "people",
    "writes",
    "accounts",
    "skips",
    "offers",
}


def test_an_empty_database_is_migrated_to_head(ledger_url: str) -> None:
    with Ledger.open(ledger_url) as ledger:
        assert ledger.schema_version() == head_revision()
    engine = create_engine(ledger_url)
    try:
        assert set(inspect(engine).get_table_names()) == TABLES
    finally:
        engine.dispose()


def test_the_migrated_schema_matches_the_tables_the_code_uses(ledger_url: str) -> None:
    Ledger.open(ledger_url).close()
    engine = create_engine(ledger_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_reopening_keeps_data_and_changes_nothing(ledger_url: str) -> None:
    m = Meeting(uid="u", start=T0, end=T0)
    with Ledger.open(ledger_url) as ledger:
        ledger.apply_changes("a", "calendar:x", CalendarChanges(upserts=[m]))
        ledger.set_cursor("a", "calendar:x", "c1")
    with Ledger.open(ledger_url) as ledger:
        assert ledger.schema_version() == head_revision()
        assert ledger.get_cursor("a", "calendar:x") == "c1"
        assert ledger.meetings("a", T0, T0.replace(year=2026)) == [m]


def test_a_database_from_a_newer_followup_is_refused(ledger_url: str) -> None:
    Ledger.open(ledger_url).close()
    engine = create_engine(ledger_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeedbeef'"))
        with pytest.raises(SchemaTooNewError, match=r"f00dfeedbeef.*newer followup"):
            Ledger.open(ledger_url)
        with engine.connect() as conn:  # and it was left as it was
            assert conn.scalar(text("SELECT version_num FROM alembic_version")) == "f00dfeedbeef"
    finally:
        engine.dispose()


def test_an_in_memory_ledger_works_for_quick_use() -> None:
    with Ledger.open("sqlite://") as ledger:
        ledger.set_cursor("a", "s", "c")
        assert ledger.get_cursor("a", "s") == "c"

"""Alembic migrations of the ledger schema, run by followup.ledger.migrate (no alembic.ini).

Revisions are written by hand, with plain SQL types so they never change once released;
tests/ledger/test_migrations.py checks that head matches followup/ledger/schema.py.
"""

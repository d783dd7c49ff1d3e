"""Company mode: many accounts in PostgreSQL, synced by procrastinate workers.

The embedded mode (`followup run`, service/) runs one person's accounts in one process.
This package drives the same engine (engine.cycle.run_cycle) from a task queue on the
ledger's own PostgreSQL: tenants and accounts in tables, credentials sealed (crypto), one
procrastinate job per account sync (queue), a lease that fences writes (lease), token
buckets per provider and tenant (bucket), the worker (worker) and the admin commands
(admin). Nothing outside this package imports it at module import time; procrastinate and
cryptography are the `company` extra.
"""

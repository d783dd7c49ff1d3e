"""The queue's rules with procrastinate's in-memory connector: one waiting sync per
account, the sooner wake-up wins, jobs reach the sync handler; the retry wait."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import procrastinate
import pytest
from procrastinate.testing import InMemoryConnector

from followup.company.queue import SYNC_TASK, cron_every, make_app, schedule_sync
from followup.company.worker import RETRY_CAP, retry_wait

T0 = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


@pytest.fixture
def ran() -> list[tuple[str, str]]:
    return []


@pytest.fixture
def app(ran: list[tuple[str, str]]) -> procrastinate.App:
    def sync(_context: object, account: str, reason: str) -> None:
        ran.append((account, reason))

    app = make_app(InMemoryConnector(), sync=sync)
    with app.open():
        yield app


def _waiting(app: procrastinate.App, account: str) -> list[datetime | None]:
    return [j.scheduled_at for j in app.job_manager.list_jobs(queueing_lock=account,
                                                              status="todo")]


def test_wakeups_of_one_account_coalesce_into_one_waiting_job(app: procrastinate.App) -> None:
    assert schedule_sync(app, "ann", "sweep")
    assert not schedule_sync(app, "ann", "due")  # one waits already, as soon
    assert schedule_sync(app, "bob", "sweep")
    assert _waiting(app, "ann") == [None]
    assert _waiting(app, "bob") == [None]


def test_a_sooner_wakeup_replaces_a_later_one_and_a_later_one_is_dropped(
    app: procrastinate.App,
) -> None:
    later, sooner = T0 + timedelta(hours=3), T0 + timedelta(hours=1)
    assert schedule_sync(app, "ann", "due", later)
    assert schedule_sync(app, "ann", "due", sooner)
    assert _waiting(app, "ann") == [sooner]
    assert not schedule_sync(app, "ann", "due", later)
    assert _waiting(app, "ann") == [sooner]
    assert schedule_sync(app, "ann", "admin")  # now beats any time
    assert _waiting(app, "ann") == [None]


def test_queued_syncs_run_once_each_through_the_handler(
    app: procrastinate.App, ran: list[tuple[str, str]],
) -> None:
    for reason in ("sweep", "due", "admin"):
        schedule_sync(app, "ann", reason)
    schedule_sync(app, "bob", "sweep")
    app.run_worker(wait=False, install_signal_handlers=False, queues=["sync"],
                   listen_notify=False)
    assert sorted(ran) == [("ann", "sweep"), ("bob", "sweep")]
    # Every sync job carries the account as its lock: one runs at a time.
    jobs = app.job_manager.list_jobs(task=SYNC_TASK)
    assert {(j.lock, j.queueing_lock) for j in jobs} == {("ann", "ann"), ("bob", "bob")}


def test_the_retry_wait_is_the_longer_of_backoff_and_retry_after() -> None:
    assert retry_wait(1) <= timedelta(seconds=30)
    assert retry_wait(1, retry_after=600) == timedelta(seconds=600)
    assert timedelta(minutes=4) <= retry_wait(5) <= timedelta(minutes=8)
    assert retry_wait(50) <= RETRY_CAP
    assert retry_wait(50, retry_after=2 * 3600) == timedelta(hours=2)


def test_periodic_tasks_run_every_minute_unless_told_otherwise() -> None:
    assert cron_every(60) == "* * * * *"
    assert cron_every(5) == "* * * * * */5"


@pytest.mark.postgres
def test_the_queue_plans_each_job_fetch_for_its_arguments(company_url: str) -> None:
    """procrastinate_fetch_job under PL/pgSQL's cached generic plan walked every waiting
    job (4.4 s a fetch with 9,500 queued: a 10,000-account backfill ran at 2 syncs a second);
    the queue's connections ask for custom plans, and keep the URL's own options."""
    import psycopg

    from followup.company.queue import conninfo

    url = company_url + ("&" if "?" in company_url else "?") + "application_name=q-test"
    with psycopg.connect(conninfo(url)) as conn:
        assert conn.execute("SHOW plan_cache_mode").fetchone() == ("force_custom_plan",)
        assert conn.execute("SHOW application_name").fetchone() == ("q-test",)
        assert conn.execute("SELECT to_regclass('company_accounts')").fetchone() != (None,)

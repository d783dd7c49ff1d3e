"""Gmail push through the scale fakes (benchmarks/scalefakes/: the Google fake's users.watch
and its Pub/Sub fake, as `company_scale.py --push` runs them): a real `followup ingest`
process opens each Google account's Gmail watch on the fakes' topic and pulls the
subscription with google-cloud-pubsub's REST client; a real `followup worker` syncs.

What it checks: an inbound mail the fake delivers to g0's Inbox is published to the topic,
pulled and acknowledged by ingest, and wakes exactly one sync of g0 ("push: gmail"), with no
"look now" from the test; g1, untouched, gets no notice and no sync.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from followup.company.queue import connector_for, make_app, schedule_sync
from followup.company.store import AccountStore
from followup.push import schema as push_schema

from .helpers import stop
from .test_scale_fakes import SETTINGS, Fake
from .test_scale_fakes import fake as fake
from .test_scale_push import _free_port, _scalar, _wait

GOOGLE = ["g0", "g1"]


def _syncs(logs: Path, reason: str) -> list[str]:
    """The accounts of the syncs the worker finished for `reason`, from its log (the
    queue deletes a job once it succeeded, so the log is where a finished sync shows)."""
    out = []
    for line in (logs / "worker.log").read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "sync.done" and event.get("reason") == reason:
            out.append(event["account"])
    return out


@pytest.fixture
def processes(fake: Fake, company_url: str, tmp_path: Path) -> Iterator[Path]:
    """`followup ingest` with the fakes' Gmail topic and Pub/Sub subscription (no public URL:
    Gmail watches only, so every sync woken is Gmail's), and `followup worker`."""
    info = fake.info
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # the worker's log is read while it runs
    logs = {n: (tmp_path / f"{n}.log").open("wb") for n in ("ingest", "worker")}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "followup",
                "ingest",
                "--database",
                company_url,
                "--listen",
                f"127.0.0.1:{_free_port()}",
                "--gmail-topic",
                info["gmail_topic"],
                "--pubsub-subscription",
                info["pubsub_subscription"],
                "--pubsub-endpoint",
                info["pubsub"],
            ],
            stdout=logs["ingest"],
            stderr=subprocess.STDOUT,
            env=env,
        ),
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "followup",
                "worker",
                "--database",
                company_url,
                "--concurrency",
                "2",
                "--poll-seconds",
                "0.2",
            ],
            stdout=logs["worker"],
            stderr=subprocess.STDOUT,
            env=env,
        ),
    ]
    try:
        yield tmp_path
    finally:
        for p in procs:
            p.terminate()  # all at once; stop() then waits for each
        for p in procs:
            stop(p)
        for f in logs.values():
            f.close()


def _accounts(fake: Fake, store: AccountStore) -> None:
    store.add_tenant("g", SETTINGS)
    made = fake.call(
        "/users", {"kind": "google", "users": [[u, f"{u}@bench.example"] for u in GOOGLE]}
    )["accounts"]
    for u in GOOGLE:
        store.add_account(
            "g",
            made[u]["config"],
            user={"name": f"User {u}", "addresses": [f"{u}@bench.example"]},
            credential={k: base64.b64decode(v) for k, v in made[u]["credential"].items()},
        )
    push_schema.ensure_schema(store.engine)


@pytest.mark.postgres
@pytest.mark.slow
def test_a_mail_at_the_scale_fake_is_pulled_from_pubsub_and_wakes_one_sync(
    fake: Fake, store: AccountStore, company_url: str, processes: Path
) -> None:
    _accounts(fake, store)
    # Ingest's first renewal round: a Gmail watch per Google account, on the fakes' topic.
    _wait(
        "the Gmail watches",
        lambda: _scalar(store, "SELECT count(*) FROM push_channels WHERE kind = 'gmail'") == 2,
        60,
    )
    assert fake.call("/counts")["google"]["gmail_watches"] == 2
    app = make_app(connector_for(company_url))
    with app.open():  # the first syncs, as `admin account add` queues them
        for name in GOOGLE:
            schedule_sync(app, name, "test")
    _wait(
        "the first syncs",
        lambda: not _scalar(store, "SELECT count(*) FROM company_accounts WHERE last_sync IS NULL"),
        60,
    )
    _wait(
        "an idle queue",
        lambda: (
            not _scalar(
                store,
                "SELECT count(*) FROM procrastinate_jobs WHERE task_name = "
                "'followup.sync_account' AND status IN ('todo', 'doing')",
            )
        ),
        30,
    )
    # Nothing so far told Gmail's watchers anything (the first syncs wrote no mail).
    assert not [n for n in fake.call("/notices")["notices"] if n["kind"] == "gmail"]

    added = time.time()
    assert fake.call(
        "/mail",
        {"mails": [{"user": "g0", "from": "someone@firm.example", "subject": "Quick question"}]},
    ) == {"added": 1}
    _wait("g0's woken sync", lambda: _syncs(processes, "push: gmail"), 60)

    notices = [n for n in fake.call("/notices")["notices"] if n["kind"] == "gmail"]
    assert [(n["user"], n["cause"], n["status"]) for n in notices] == [("g0", "mail", 200)]
    assert added <= notices[0]["sent"]
    pubsub = fake.call("/counts")["google"]["pubsub"]
    assert pubsub["published"] == 1 and pubsub["acks"] == 1 and pubsub["pending"] == 0
    time.sleep(2)  # a second wake-up (a redelivery, a stray notice) would show by now
    assert _syncs(processes, "push: gmail") == ["g0"]
    with store.engine.begin() as conn:
        noticed = dict(
            conn.execute(
                text("SELECT account, notices FROM push_channels WHERE kind = 'gmail'")
            ).all()
        )
        last = dict(conn.execute(text("SELECT name, last_sync FROM company_accounts")).all())
    assert noticed == {"g0": 1, "g1": 0}
    assert last["g0"].timestamp() > added and last["g1"].timestamp() < added


def test_the_watch_publishes_what_gmail_would_for_its_labels() -> None:
    """Gmail's filter, as the fake applies it: with followup's labelIds (INBOX, SENT) a draft
    (DRAFT only) publishes nothing, an inbound mail publishes the mailbox's historyId, and
    nothing is published once users.stop ends the watch (or before any watch)."""
    from benchmarks.scalefakes.google import GoogleScaleFake
    from benchmarks.scalefakes.pubsub import SUBSCRIPTION, TOPIC

    google = GoogleScaleFake("http://127.0.0.1:9")
    google.add_user("g0", "g0@bench.example")
    state = google.users["g0"].state
    google.add_mail("g0", "someone@elsewhere.example")  # no watch yet
    state.users_watch({"topicName": TOPIC, "labelIds": ["INBOX", "SENT"]})
    state.add_message(b"Subject: a draft\r\n\r\nHi\r\n", labels=["DRAFT"])
    assert google.pubsub.counts()["published"] == 0
    google.add_mail("g0", "someone@elsewhere.example")
    assert google.pubsub.counts()["published"] == 1
    [message] = google.pubsub.queues.subscriptions[SUBSCRIPTION]
    assert json.loads(message.data) == {
        "emailAddress": "g0@bench.example",
        "historyId": state.history_id,
    }
    state.users_stop()
    google.add_mail("g0", "someone@elsewhere.example")
    assert google.pubsub.counts()["published"] == 1

"""Push notices for company mode, and organisation-wide connect.

Polling stays the safety net (company.worker's sweep); push only makes syncs come sooner.
A notice is never trusted as data: whatever arrives (a Gmail Pub/Sub message, a Calendar
channel ping, a Graph change notification over a webhook or Event Hubs) is checked against
the channel it claims to come from and then only queues a sync of that account
(company.queue.schedule_sync: coalesced by the account's queueing lock).

- schema: the push channels (and organisation credentials) in PostgreSQL, beside the
  company tables;
- channels: the channel store (expiry, failures, notices);
- notices: checking a notice and turning it into a wake-up;
- google_push / graph_push: creating, renewing and stopping channels at the providers;
- pubsub / eventhubs: the pull consumers; webhook: the Starlette app; ingest: the process;
- renew: the periodic renewal; admin: `followup ingest` and the push/org admin commands;
- org_google / org_microsoft: service accounts with domain-wide delegation, app-only
  Microsoft Graph with a certificate.

Nothing here is imported by `followup` at import time: google-cloud-pubsub, azure-eventhub,
starlette and uvicorn are the `push` extra.
"""

-- Schema version 4 of the SQLite driver: outbound webhooks (Standard
-- Webhooks, connectors/outwebhooks.c).
--
-- webhook_endpoints: where to send which events. events is a JSON array of
-- event names or ["*"]. secret is the signing secret (whsec_ + base64) as
-- the API showed it once; it is stored as is (no key infrastructure yet:
-- a database dump discloses it). status 0 enabled, 1 disabled (by an
-- admin, by a 410, or after failing for days; disabled_reason says which);
-- failing_since_ms: the first failure of the current run of failures.
--
-- webhook_messages: one per (endpoint, event): the body signed and sent,
-- under its msg_ id (the webhook-id header, stable across retries), with
-- the last attempt's outcome. subject and activity_id order one
-- resource's messages to one endpoint (booking:ID, client:ID). status 0 pending, 1 delivered,
-- 2 failed (out of attempts, or the endpoint disabled).

CREATE TABLE webhook_endpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    description TEXT,
    secret TEXT NOT NULL,
    status INTEGER NOT NULL DEFAULT 0 CHECK (status BETWEEN 0 AND 1),
    disabled_reason TEXT,
    failing_since_ms INTEGER,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE webhook_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id TEXT NOT NULL UNIQUE,
    endpoint_id INTEGER NOT NULL
        REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL,
    subject TEXT,
    activity_id INTEGER NOT NULL,
    body TEXT NOT NULL,
    timestamp_s INTEGER NOT NULL,
    status INTEGER NOT NULL DEFAULT 0 CHECK (status BETWEEN 0 AND 2),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_status_code INTEGER,
    last_duration_ms INTEGER,
    last_error TEXT,
    job_id INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    delivered_ms INTEGER,
    UNIQUE (endpoint_id, activity_id)
) STRICT;
CREATE INDEX webhook_messages_endpoint ON webhook_messages (endpoint_id, id);
CREATE INDEX webhook_messages_subject
    ON webhook_messages (endpoint_id, subject, activity_id) WHERE status = 0;

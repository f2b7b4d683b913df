-- Schema version 8 of the SQLite driver: calendar connections (issue 8,
-- docs/calendars.md).
--
-- calendar_connections: one account at a calendar provider for one host.
-- kind 'caldav' (url, username) or 'google' (later). credential is the
-- password sealed with AES-256-GCM under BOOKINGD_SECRET_KEY
-- (crypto/crypto.h bk_secret_seal; associated data
-- "calendar_connection:<public_id>:credential"), never the plain text.
-- calendars is a JSON array of the collections found at discovery:
-- [{"href": absolute URL, "name", "busy": bool, "write": bool}], at most one
-- with write. status 0 active, 1 error (last_error says why), 2 needs_auth
-- (the server refused the credentials). on_cancel 0: a cancelled booking's
-- event is deleted; 1: it is kept with STATUS:CANCELLED.
--
-- A booking's event is an external link (entity booking, provider
-- 'caldav', kind 'event:<connection public id>', external_id the event's
-- URL, etag its ETag).

CREATE TABLE calendar_connections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id TEXT NOT NULL UNIQUE,
    host_id INTEGER NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('caldav', 'google')),
    url TEXT NOT NULL,
    username TEXT,
    credential TEXT,
    calendars TEXT NOT NULL,
    status INTEGER NOT NULL DEFAULT 0 CHECK (status BETWEEN 0 AND 2),
    on_cancel INTEGER NOT NULL DEFAULT 0 CHECK (on_cancel BETWEEN 0 AND 1),
    last_sync_ms INTEGER,
    last_error TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX calendar_connections_host ON calendar_connections (host_id, id);

-- calendar_busy: busy time read from a connection's busy calendars by the
-- last sync (connectors/calendars.c): one row per instance of an event
-- that blocks time ([start_utc, end_utc), recurrences expanded over the
-- sync's horizon), keyed by the calendar (collection URL) and the event's
-- resource URL (href), so that a changed or deleted event replaces its
-- rows. host_id is the connection's, copied so that the slot query reads
-- one index. Events that are bookings of bookingd (their UID) are not
-- stored: a booking blocks its time as a booking.
CREATE TABLE calendar_busy (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connection_id INTEGER NOT NULL
        REFERENCES calendar_connections (id) ON DELETE CASCADE,
    host_id INTEGER NOT NULL,
    calendar TEXT NOT NULL,
    href TEXT NOT NULL,
    uid TEXT,
    start_utc INTEGER NOT NULL,
    end_utc INTEGER NOT NULL,
    CHECK (end_utc > start_utc)
) STRICT;
CREATE INDEX calendar_busy_host ON calendar_busy (host_id, end_utc);
CREATE INDEX calendar_busy_calendar
    ON calendar_busy (connection_id, calendar, href);

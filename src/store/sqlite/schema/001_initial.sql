-- Schema version 1 of the SQLite driver (store/driver.h). Never edit a
-- migration that has shipped: add the next NNN_name.sql.
--
-- Conventions: tables are STRICT; "none" (0 in core/ledger.h for optional
-- ids and instants) is NULL here, so that UNIQUE and foreign keys ignore
-- it; enums are stored as their integer values with a CHECK on the range;
-- times are integers (UTC seconds, or milliseconds where the name says _ms);
-- dates are days since the epoch and wall-clock times minutes after
-- midnight.

CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;
CREATE TABLE hosts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    timezone TEXT NOT NULL,
    created_utc INTEGER NOT NULL,
    updated_utc INTEGER NOT NULL
) STRICT;
CREATE INDEX hosts_email ON hosts (lower(email), created_utc, id);
-- One schedule per host; its ranges go when it goes.
CREATE TABLE schedules (
    host_id INTEGER PRIMARY KEY
        REFERENCES hosts (id) ON DELETE CASCADE,
    timezone TEXT NOT NULL,
    created_utc INTEGER NOT NULL,
    updated_utc INTEGER NOT NULL
) STRICT;
CREATE TABLE schedule_weekly (
    id INTEGER PRIMARY KEY,
    host_id INTEGER NOT NULL
        REFERENCES schedules (host_id) ON DELETE CASCADE,
    day INTEGER NOT NULL CHECK (day BETWEEN 0 AND 6),
    start_min INTEGER NOT NULL,
    end_min INTEGER NOT NULL,
    CHECK (0 <= start_min AND start_min < end_min AND end_min <= 1440)
) STRICT;
CREATE INDEX schedule_weekly_host
    ON schedule_weekly (host_id, day, start_min);
CREATE TABLE schedule_overrides (
    id INTEGER PRIMARY KEY,
    host_id INTEGER NOT NULL
        REFERENCES schedules (host_id) ON DELETE CASCADE,
    date INTEGER NOT NULL,
    unavailable INTEGER NOT NULL CHECK (unavailable IN (0, 1)),
    start_min INTEGER NOT NULL,
    end_min INTEGER NOT NULL,
    CHECK (unavailable = 1 OR (0 <= start_min AND start_min < end_min
                               AND end_min <= 1440))
) STRICT;
CREATE INDEX schedule_overrides_host
    ON schedule_overrides (host_id, date, start_min);
-- Buffers are capped at a day (core/availability.h): the busy query
-- relies on it to bound its index range.
CREATE TABLE event_types (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    description TEXT,
    host_id INTEGER NOT NULL REFERENCES hosts (id),
    duration_min INTEGER NOT NULL CHECK (duration_min > 0),
    interval_min INTEGER NOT NULL CHECK (interval_min >= 0),
    buffer_before_min INTEGER NOT NULL
        CHECK (buffer_before_min BETWEEN 0 AND 1440),
    buffer_after_min INTEGER NOT NULL
        CHECK (buffer_after_min BETWEEN 0 AND 1440),
    notice_min INTEGER NOT NULL CHECK (notice_min >= 0),
    horizon_days INTEGER NOT NULL CHECK (horizon_days >= 0),
    max_per_day INTEGER NOT NULL CHECK (max_per_day >= 0),
    alignment INTEGER NOT NULL CHECK (alignment IN (0, 1)),
    price_minor INTEGER CHECK (price_minor >= 0),
    currency TEXT CHECK (length(currency) = 3),
    location_kind INTEGER NOT NULL CHECK (location_kind BETWEEN 0 AND 3),
    location_value TEXT,
    active INTEGER NOT NULL CHECK (active IN (0, 1)),
    calcom_event_type_id INTEGER UNIQUE,
    imported INTEGER NOT NULL CHECK (imported IN (0, 1)),
    created_utc INTEGER NOT NULL,
    updated_utc INTEGER NOT NULL
) STRICT;
CREATE INDEX event_types_host ON event_types (host_id);
-- email_norm is lower(email): SQLite's lower() folds ASCII only, which
-- is what store.h promises.
CREATE TABLE clients (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    email_norm TEXT NOT NULL UNIQUE CHECK (email_norm = lower(email)),
    name TEXT,
    timezone TEXT,
    status INTEGER NOT NULL CHECK (status BETWEEN 0 AND 2),
    created_utc INTEGER NOT NULL,
    updated_utc INTEGER NOT NULL
) STRICT;
CREATE TABLE bookings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uid TEXT NOT NULL UNIQUE,
    event_type_id INTEGER NOT NULL REFERENCES event_types (id),
    host_id INTEGER NOT NULL REFERENCES hosts (id),
    client_id INTEGER NOT NULL REFERENCES clients (id),
    start_utc INTEGER NOT NULL,
    end_utc INTEGER NOT NULL,
    attendee_timezone TEXT,
    status INTEGER NOT NULL CHECK (status BETWEEN 0 AND 4),
    payment_status INTEGER NOT NULL
        CHECK (payment_status BETWEEN 0 AND 4),
    source INTEGER NOT NULL CHECK (source BETWEEN 0 AND 5),
    location TEXT,
    meeting_url TEXT,
    notes TEXT,
    cancellation_reason TEXT,
    rescheduled_from_utc INTEGER,
    hold_expires_utc INTEGER,
    created_utc INTEGER NOT NULL,
    updated_utc INTEGER NOT NULL,
    CHECK (end_utc > start_utc)
) STRICT;
CREATE INDEX bookings_host_start ON bookings (host_id, start_utc);
CREATE INDEX bookings_host_end ON bookings (host_id, end_utc);
CREATE INDEX bookings_start ON bookings (start_utc, id);
CREATE INDEX bookings_client ON bookings (client_id);
CREATE INDEX bookings_event_type ON bookings (event_type_id);
CREATE TABLE booking_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    booking_id INTEGER NOT NULL
        REFERENCES bookings (id) ON DELETE CASCADE,
    at_utc INTEGER NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    from_status INTEGER CHECK (from_status BETWEEN 0 AND 4),
    to_status INTEGER CHECK (to_status BETWEEN 0 AND 4),
    old_start_utc INTEGER,
    old_end_utc INTEGER,
    new_start_utc INTEGER,
    new_end_utc INTEGER,
    note TEXT
) STRICT;
CREATE INDEX booking_history_booking
    ON booking_history (booking_id, at_utc, id);
-- entity_id points into the table `entity` names, so it has no foreign
-- key.
CREATE TABLE external_links (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entity INTEGER NOT NULL CHECK (entity BETWEEN 0 AND 3),
    entity_id INTEGER NOT NULL,
    provider TEXT NOT NULL,
    kind TEXT NOT NULL,
    external_id TEXT NOT NULL,
    etag TEXT,
    superseded INTEGER NOT NULL CHECK (superseded IN (0, 1)),
    created_utc INTEGER NOT NULL,
    UNIQUE (provider, kind, external_id)
) STRICT;
CREATE INDEX external_links_entity
    ON external_links (entity, entity_id);
CREATE TABLE activity (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_utc INTEGER NOT NULL,
    kind TEXT NOT NULL,
    booking_id INTEGER REFERENCES bookings (id) ON DELETE SET NULL,
    client_id INTEGER REFERENCES clients (id) ON DELETE SET NULL,
    source TEXT NOT NULL,
    detail TEXT
) STRICT;
CREATE INDEX activity_kind ON activity (kind, id);
CREATE INDEX activity_booking ON activity (booking_id, id);
CREATE INDEX activity_client ON activity (client_id);
-- A running job holds a lease; dedupe_key NULL is never deduplicated.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    dedupe_key TEXT UNIQUE,
    payload TEXT,
    run_at_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL CHECK (attempts >= 0),
    max_attempts INTEGER NOT NULL CHECK (max_attempts >= 0),
    status INTEGER NOT NULL CHECK (status BETWEEN 0 AND 3),
    last_error TEXT,
    lease_until_ms INTEGER,
    lease_token INTEGER,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    CHECK (status <> 1 OR (lease_until_ms IS NOT NULL
                           AND lease_token IS NOT NULL))
) STRICT;
CREATE INDEX jobs_due ON jobs (status, run_at_ms, id);
CREATE INDEX jobs_lease ON jobs (status, lease_until_ms);
CREATE TABLE inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    public_id TEXT NOT NULL UNIQUE,
    provider TEXT NOT NULL,
    delivery_key TEXT NOT NULL,
    type TEXT,
    received_ms INTEGER NOT NULL,
    payload BLOB NOT NULL,
    payload_len INTEGER NOT NULL,
    status INTEGER NOT NULL CHECK (status BETWEEN 0 AND 3),
    error TEXT,
    processed_ms INTEGER,
    job_id INTEGER REFERENCES jobs (id) ON DELETE SET NULL,
    subject TEXT,
    UNIQUE (provider, delivery_key)
) STRICT;
CREATE INDEX inbox_provider ON inbox (provider, id);
CREATE INDEX inbox_subject ON inbox (provider, subject)
    WHERE subject IS NOT NULL;
CREATE INDEX inbox_job ON inbox (job_id);

-- Schema version 12 of the SQLite driver: event types whose location is a
-- Zoom meeting per booking (location_kind 4, "zoom"; docs/providers/zoom.md).
--
-- SQLite cannot change a CHECK constraint in place: event_types is rebuilt
-- (copied aside, dropped, created with the new CHECK, copied back, keeping
-- every id). bookings.event_type_id references it by name; foreign keys
-- are enforced, so they are deferred to the commit, by which time every
-- referenced row is back.
PRAGMA defer_foreign_keys = ON;
CREATE TEMP TABLE event_types_copy AS SELECT * FROM event_types;
CREATE TEMP TABLE event_types_seq AS
    SELECT seq FROM sqlite_sequence WHERE name = 'event_types';
DROP TABLE event_types;
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
    location_kind INTEGER NOT NULL CHECK (location_kind BETWEEN 0 AND 4),
    location_value TEXT,
    active INTEGER NOT NULL CHECK (active IN (0, 1)),
    calcom_event_type_id INTEGER UNIQUE,
    imported INTEGER NOT NULL CHECK (imported IN (0, 1)),
    created_utc INTEGER NOT NULL,
    updated_utc INTEGER NOT NULL,
    reminders_minutes TEXT NOT NULL DEFAULT '[1440,60]',
    refund_full_until_hours INTEGER NOT NULL DEFAULT 24
        CHECK (refund_full_until_hours BETWEEN 0 AND 8760),
    refund_late_percent INTEGER NOT NULL DEFAULT 0
        CHECK (refund_late_percent BETWEEN 0 AND 100)
) STRICT;
INSERT INTO event_types (id, slug, title, description, host_id, duration_min,
    interval_min, buffer_before_min, buffer_after_min, notice_min,
    horizon_days, max_per_day, alignment, price_minor, currency,
    location_kind, location_value, active, calcom_event_type_id, imported,
    created_utc, updated_utc, reminders_minutes, refund_full_until_hours,
    refund_late_percent)
SELECT id, slug, title, description, host_id, duration_min,
    interval_min, buffer_before_min, buffer_after_min, notice_min,
    horizon_days, max_per_day, alignment, price_minor, currency,
    location_kind, location_value, active, calcom_event_type_id, imported,
    created_utc, updated_utc, reminders_minutes, refund_full_until_hours,
    refund_late_percent
FROM event_types_copy;
-- AUTOINCREMENT's high-water mark survives: ids of deleted event types
-- are never reused.
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'event_types', seq FROM event_types_seq
    WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence
                      WHERE name = 'event_types');
UPDATE sqlite_sequence SET seq = (SELECT seq FROM event_types_seq)
    WHERE name = 'event_types' AND seq < (SELECT seq FROM event_types_seq);
DROP TABLE event_types_copy;
DROP TABLE event_types_seq;
CREATE INDEX event_types_host ON event_types (host_id);

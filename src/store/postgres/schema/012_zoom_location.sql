-- Schema version 12 of the PostgreSQL driver: event types whose location
-- is a Zoom meeting per booking (location_kind 4, "zoom"; docs/providers/zoom.md).
ALTER TABLE event_types DROP CONSTRAINT event_types_location_kind_check;
ALTER TABLE event_types ADD CONSTRAINT event_types_location_kind_check
    CHECK (location_kind BETWEEN 0 AND 4);

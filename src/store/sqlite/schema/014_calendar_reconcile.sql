-- Schema version 14 of the SQLite driver: the daily reconcile of calendar connections and
-- the "ask" setting (issue 8 §3-§4, docs/calendars.md "Reconcile").
--
-- calendar_connections.on_calendar_delete: what an event of a booking
-- deleted in the calendar does: 0 cancels the booking ("deleted in
-- calendar"), 1 flags it for the admin (bookings.flag) and leaves it
-- confirmed. last_sync_summary / last_reconcile_summary: the JSON summary
-- {total, created, updated, skipped, errors} of the last sync and the last
-- reconcile (NULL: never); last_reconcile_ms: when the last reconcile ran.
ALTER TABLE calendar_connections
    ADD COLUMN on_calendar_delete INTEGER NOT NULL DEFAULT 0
    CHECK (on_calendar_delete BETWEEN 0 AND 1);
ALTER TABLE calendar_connections ADD COLUMN last_sync_summary TEXT;
ALTER TABLE calendar_connections ADD COLUMN last_reconcile_ms INTEGER;
ALTER TABLE calendar_connections ADD COLUMN last_reconcile_summary TEXT;

-- bookings.flag: why the booking waits for the admin (NULL: it does not):
-- "deleted_in_calendar" when its event was deleted in a calendar whose
-- connection asks. The admin resolves it (POST
-- /api/v1/bookings/{uid}/resolve-flag): cancel, or keep and push again.
ALTER TABLE bookings ADD COLUMN flag TEXT;
CREATE INDEX bookings_flagged ON bookings (start_utc, id) WHERE flag IS NOT NULL;

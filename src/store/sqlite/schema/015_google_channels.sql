-- Schema version 15 of the SQLite driver: Google Calendar push
-- notification channels (events.watch; docs/calendars.md "Push
-- notifications").
--
-- google_channels: one row per watch channel bookingd opened on a busy or
-- write calendar of a Google connection. channel_id is the UUID sent as
-- the channel's id (X-Goog-Channel-ID of its notifications); its token is
-- not stored (a keyed token of the channel id, crypto.h, recomputed).
-- resource_id is Google's (channels.stop needs it). connection_id is NULL
-- once the connection is deleted: the row then keeps the connection's
-- sealed credential (stop_credential, associated data of
-- connection_public_id) until the channel is stopped.
CREATE TABLE google_channels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel_id TEXT NOT NULL UNIQUE,
    connection_id INTEGER
        REFERENCES calendar_connections (id) ON DELETE SET NULL,
    connection_public_id TEXT NOT NULL,
    calendar_id TEXT NOT NULL,
    resource_id TEXT,
    expiration_ms INTEGER NOT NULL,
    stop_credential TEXT,
    created_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX google_channels_connection
    ON google_channels (connection_id, calendar_id);

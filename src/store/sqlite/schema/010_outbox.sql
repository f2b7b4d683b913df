-- Schema version 10 of the SQLite driver: reminders and the outbox's
-- attempts.
--
-- event_types.reminders_minutes: when the attendee is reminded of a
-- booking, in minutes before its start, as a JSON array of distinct
-- integers ("[1440,60]", "[]" for none); mail/mail.c schedules one
-- mail.reminder job per entry with the booking.
ALTER TABLE event_types
    ADD COLUMN reminders_minutes TEXT NOT NULL DEFAULT '[1440,60]';

-- webhook_attempts: every delivery attempt of an outbound webhook message
-- (webhook_messages keeps the last one's outcome): when, the HTTP status
-- (NULL: no answer), how long it took and the error. Written with the
-- message's record of the attempt, deleted with the message.
CREATE TABLE webhook_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id INTEGER NOT NULL
        REFERENCES webhook_messages (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL CHECK (attempt >= 1),
    at_ms INTEGER NOT NULL,
    status_code INTEGER,
    duration_ms INTEGER NOT NULL CHECK (duration_ms >= 0),
    error TEXT
) STRICT;
CREATE INDEX webhook_attempts_message ON webhook_attempts (message_id, id);

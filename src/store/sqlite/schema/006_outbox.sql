-- Schema version 6 of the SQLite driver: reminders and the outbox's
-- attempts.
--
-- event_types.reminders_minutes: when the attendee is reminded of a
-- booking, in minutes before its start, as a JSON array of distinct
-- integers ("[1440,60]", "[]" for none); mail/mail.c schedules one
-- mail.reminder job per entry with the booking.
ALTER TABLE event_types
    ADD COLUMN reminders_minutes TEXT NOT NULL DEFAULT '[1440,60]';

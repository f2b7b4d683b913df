-- Schema version 5 of the SQLite driver: outbound email messages.
--
-- One row per message the mail subscriber decided to send (mail/mail.h):
-- to whom, what, and what became of it. (booking_id, kind, sequence) is
-- the message's identity: its Message-ID is derived from it, so a resend
-- carries the same one. sequence is the booking's iCalendar SEQUENCE at
-- the change the message tells of.
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    booking_id INTEGER NOT NULL
        REFERENCES bookings (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    status INTEGER NOT NULL CHECK (status BETWEEN 0 AND 3),
    message_id TEXT NOT NULL,
    sequence INTEGER NOT NULL CHECK (sequence >= 0),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    sent_utc INTEGER,
    created_utc INTEGER NOT NULL,
    UNIQUE (booking_id, kind, sequence)
) STRICT;

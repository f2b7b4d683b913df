-- Schema version 11 of the SQLite driver: refund policies of event types
-- (ledger/payments.c, docs/payments.md "Refund policy").
--
-- What cancelling a paid booking gives back: all of it when it is
-- cancelled at least refund_full_until_hours before its start, else
-- refund_late_percent of it (0: nothing). Every event type has one; the
-- default (24 hours, 0 %) is the issue's example.
ALTER TABLE event_types
    ADD COLUMN refund_full_until_hours INTEGER NOT NULL DEFAULT 24
        CHECK (refund_full_until_hours BETWEEN 0 AND 8760);
ALTER TABLE event_types
    ADD COLUMN refund_late_percent INTEGER NOT NULL DEFAULT 0
        CHECK (refund_late_percent BETWEEN 0 AND 100);

-- Invoices (issue 9 §2, ledger/invoices.c): one per paid booking, its
-- number gapless per calendar year (INV-2026-0001), taken from
-- invoice_counters in the transaction that records the payment, so a
-- rolled-back payment takes no number. The issuer, the client and the
-- line are copied at issue: an invoice does not change when the
-- catalog or the configuration does. status: 0 open, 1 paid, 2 void,
-- 3 refunded, 4 partially_refunded. A booking or client erased later
-- leaves its invoices (the ids become NULL).
CREATE TABLE invoice_counters (
    year INTEGER PRIMARY KEY,
    last_seq INTEGER NOT NULL CHECK (last_seq >= 0)
) STRICT;
CREATE TABLE invoices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT NOT NULL UNIQUE,
    year INTEGER NOT NULL,
    seq INTEGER NOT NULL CHECK (seq >= 1),
    booking_id INTEGER UNIQUE REFERENCES bookings (id) ON DELETE SET NULL,
    client_id INTEGER REFERENCES clients (id) ON DELETE SET NULL,
    issuer_name TEXT NOT NULL,
    issuer_address TEXT,
    client_name TEXT,
    client_email TEXT NOT NULL,
    line TEXT NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (amount_minor >= 0),
    refunded_minor INTEGER NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0),
    currency TEXT NOT NULL CHECK (length(currency) = 3),
    status INTEGER NOT NULL CHECK (status BETWEEN 0 AND 4),
    stripe_session TEXT,
    stripe_payment_intent TEXT,
    issued_utc INTEGER NOT NULL,
    paid_utc INTEGER,
    updated_utc INTEGER NOT NULL,
    UNIQUE (year, seq)
) STRICT;
CREATE INDEX invoices_client ON invoices (client_id, issued_utc);
CREATE INDEX invoices_issued ON invoices (issued_utc);

-- Packages of sessions (issue 9 §3, api/packages.c): what is sold — a
-- number of sessions of some event types, at a price, valid for some
-- days after purchase. The purchase and its credits are to come.
CREATE TABLE packages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    sessions INTEGER NOT NULL CHECK (sessions BETWEEN 1 AND 1000),
    price_minor INTEGER NOT NULL CHECK (price_minor >= 0),
    currency TEXT NOT NULL CHECK (length(currency) = 3),
    valid_days INTEGER NOT NULL CHECK (valid_days BETWEEN 1 AND 3660),
    active INTEGER NOT NULL,
    created_utc INTEGER NOT NULL,
    updated_utc INTEGER NOT NULL
) STRICT;
CREATE TABLE package_event_types (
    package_id INTEGER NOT NULL REFERENCES packages (id) ON DELETE CASCADE,
    event_type_id INTEGER NOT NULL REFERENCES event_types (id) ON DELETE CASCADE,
    PRIMARY KEY (package_id, event_type_id)
) STRICT;
CREATE INDEX package_event_types_et ON package_event_types (event_type_id);

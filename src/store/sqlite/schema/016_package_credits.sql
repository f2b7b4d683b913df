-- Schema version 16 of the SQLite driver: buying packages of sessions and
-- their credits (issue 9 §3, ledger/packages.c, docs/payments.md
-- "Packages of sessions").
--
-- A purchase is one attempt to buy a package (POST
-- /api/v1/packages/{slug}/checkout): its public uid names its Checkout
-- Session (metadata[package_purchase], Idempotency-Key
-- bookingd-package-UID), the package's terms are copied at that moment.
-- status: 0 awaiting payment, 1 paid (credits granted), 2 expired (the
-- Checkout Session ended unpaid), 3 refunded. A paid purchase has its
-- invoice (its number; the invoice's booking_id stays NULL).
CREATE TABLE package_purchases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uid TEXT NOT NULL UNIQUE,
    package_id INTEGER NOT NULL REFERENCES packages (id),
    client_id INTEGER NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    attendee_name TEXT NOT NULL,
    attendee_email TEXT NOT NULL,
    sessions INTEGER NOT NULL CHECK (sessions BETWEEN 1 AND 1000),
    valid_days INTEGER NOT NULL CHECK (valid_days BETWEEN 1 AND 3660),
    amount_minor INTEGER NOT NULL CHECK (amount_minor >= 0),
    currency TEXT NOT NULL CHECK (length(currency) = 3),
    status INTEGER NOT NULL CHECK (status BETWEEN 0 AND 3),
    session_id TEXT UNIQUE,
    checkout_url TEXT,
    session_expires_utc INTEGER NOT NULL,
    payment_intent TEXT,
    last_error TEXT,
    invoice_number TEXT,
    paid_utc INTEGER,
    credits_expire_utc INTEGER,
    created_utc INTEGER NOT NULL,
    updated_utc INTEGER NOT NULL
) STRICT;
CREATE INDEX package_purchases_client ON package_purchases (client_id);

-- One row per session bought: status 0 available, 1 used (by booking_id),
-- 2 expired (the daily packages.expire job, or found so when used). A
-- credit is taken by a conditional UPDATE (status = 0) in the booking's
-- transaction, and given back by one when the booking is cancelled
-- within its event type's refund policy.
CREATE TABLE package_credits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    purchase_id INTEGER NOT NULL
        REFERENCES package_purchases (id) ON DELETE CASCADE,
    client_id INTEGER NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    status INTEGER NOT NULL CHECK (status BETWEEN 0 AND 2),
    booking_id INTEGER UNIQUE REFERENCES bookings (id) ON DELETE SET NULL,
    expires_utc INTEGER NOT NULL,
    used_utc INTEGER,
    updated_utc INTEGER NOT NULL
) STRICT;
CREATE INDEX package_credits_purchase ON package_credits (purchase_id, status);
CREATE INDEX package_credits_expiry ON package_credits (status, expires_utc);

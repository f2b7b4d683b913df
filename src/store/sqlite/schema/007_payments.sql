-- Schema version 7 of the SQLite driver: payments of priced bookings
-- (ledger/payments.c, connectors/stripe.c, docs/payments.md).
--
-- One row per booking that must be paid: the amount and currency asked
-- (copied from the event type at booking time), the Checkout attempt
-- (1, 2 ... each a new Stripe Checkout Session under its own idempotency
-- key), the current session's id, hosted URL and expiry, the
-- PaymentIntent once paid, and the refund when one was made. The
-- booking's own status and payment_status stay the ledger's truth; this
-- row is what Stripe knows about it. A session is also an external link
-- (provider 'stripe', kind 'checkout_session') of the booking.
CREATE TABLE payments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    booking_id INTEGER NOT NULL UNIQUE
        REFERENCES bookings (id) ON DELETE CASCADE,
    amount_minor INTEGER NOT NULL CHECK (amount_minor >= 0),
    currency TEXT NOT NULL CHECK (length(currency) = 3),
    attempt INTEGER NOT NULL CHECK (attempt >= 1),
    session_id TEXT UNIQUE,
    checkout_url TEXT,
    session_expires_utc INTEGER,
    payment_intent TEXT,
    refund_id TEXT,
    refund_reason TEXT,
    last_error TEXT,
    created_utc INTEGER NOT NULL,
    updated_utc INTEGER NOT NULL
) STRICT;

-- Schema version 11 of the PostgreSQL driver: refund policies of event types
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

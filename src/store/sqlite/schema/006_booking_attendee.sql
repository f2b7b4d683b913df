-- Schema version 6: the attendee of a booking, as given.
--
-- A booking keeps the name and email its attendee gave, apart from the
-- client record it is linked to (found by email, case-insensitively). An
-- anonymous booking never changes a client's stored name or other fields
-- (docs/api.md "Clients and attendees"), so the name given would otherwise
-- be lost, and an answer built from the client would disclose what others
-- stored. Bookings made before this version had no other record of their
-- attendee than the client: they take the client's name and email.
ALTER TABLE bookings ADD COLUMN attendee_name TEXT;
ALTER TABLE bookings ADD COLUMN attendee_email TEXT;
UPDATE bookings SET
    attendee_name = (SELECT c.name FROM clients c WHERE c.id = bookings.client_id),
    attendee_email = (SELECT c.email FROM clients c WHERE c.id = bookings.client_id);

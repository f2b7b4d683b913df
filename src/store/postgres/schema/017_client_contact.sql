-- Schema version 17 of the PostgreSQL driver: a client's phone and notes
-- (issue 10 §3; docs/api.md "Clients"), edited through the admin API and
-- the Notion Clients database. Both nullable text: NULL when never given.
-- The API checks them (phone: at most 40 bytes of digits, spaces and
-- + - ( ) .; notes: at most 5000 bytes of UTF-8).
ALTER TABLE clients ADD COLUMN phone TEXT;
ALTER TABLE clients ADD COLUMN notes TEXT;

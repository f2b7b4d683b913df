-- Schema version 11 of the SQLite driver: the host card of the booking
-- page.
--
-- hosts.photo_url: an https URL of the host's photo (NULL: none);
-- hosts.bio: a short text about the host (NULL: none). Both are public:
-- the booking page shows them (GET /api/v1/hosts/{slug}/profile).
ALTER TABLE hosts ADD COLUMN photo_url TEXT;
ALTER TABLE hosts ADD COLUMN bio TEXT;

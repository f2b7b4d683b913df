-- Schema version 13 of the PostgreSQL driver: the booking page's host card and
-- custom questions.
--
-- hosts.photo_url: an https URL of the host's photo (NULL: none);
-- hosts.bio: a short text about the host (NULL: none). Both are public:
-- the booking page shows them (GET /api/v1/hosts/{slug}/profile).
ALTER TABLE hosts ADD COLUMN photo_url TEXT;
ALTER TABLE hosts ADD COLUMN bio TEXT;

-- event_types.questions: the custom questions of the booking form, as a
-- JSON list (ledger/questions.h; '[]' for none). bookings.answers: the
-- attendee's answers, a JSON list of {id, label, type, value} (NULL:
-- none). Answers are shown to the host, never to other visitors.
ALTER TABLE event_types ADD COLUMN questions TEXT NOT NULL DEFAULT '[]';
ALTER TABLE bookings ADD COLUMN answers TEXT;

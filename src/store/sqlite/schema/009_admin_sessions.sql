-- Schema version 9 of the SQLite driver: admin sign-in sessions.
--
-- One row per signed-in browser (api/session.c, docs/admin.md). The
-- cookie holds a random token; only its SHA-256 (hex) is stored, so a
-- copy of the database does not sign anyone in. user_name is who signed
-- in: "admin" (the admin key) today, one name per admin user later.
-- expires_utc slides forward on use (idle time-out) but never past
-- created_utc plus the absolute lifetime. Expired rows are deleted at the
-- next sign-in.
CREATE TABLE admin_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_sha256 TEXT NOT NULL UNIQUE
        CHECK (length(token_sha256) = 64),
    user_name TEXT NOT NULL,
    created_utc INTEGER NOT NULL,
    last_seen_utc INTEGER NOT NULL,
    expires_utc INTEGER NOT NULL,
    CHECK (expires_utc >= created_utc)
) STRICT;
CREATE INDEX admin_sessions_expires ON admin_sessions (expires_utc);

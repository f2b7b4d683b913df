-- Schema version 6: reserved for a migration of another branch (the
-- payments branch was given number 007). It changes nothing; the lead
-- replaces it with that branch's 006 at merge.
SELECT 1;

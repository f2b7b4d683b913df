-- Placeholder (branch packages): versions must not have gaps; another
-- branch owns 014. The lead deletes this file when that branch merges.
SELECT 1;

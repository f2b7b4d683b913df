-- Reserved: schema version 6 belongs to another branch (issue 8's
-- migration is 008 as assigned). Delete this file when merging.
SELECT 1;

-- Reserved: schema version 7 belongs to another branch (issue 8's
-- migration is 008 as assigned). Delete this file when merging.
SELECT 1;

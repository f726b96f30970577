-- Lists documents newest first from a sorted-set index: list_page (page.lua)
-- run as a script of its own.
--
-- KEYS: 1 the index.
-- ARGV: 1 document key prefix, 2 limit, 3 cursor score or "", 4 cursor member,
--       5 how many index entries to examine at most, 6 status to keep or "",
--       7 a status that reads as "expired" once expires_at has passed, or "",
--       8 now.
-- Returns {documents, next} where next is {score, member} or nil.

local docs, next = list_page(KEYS[1], ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6], ARGV[7], ARGV[8])
if next then return {docs, next} end
return {docs}

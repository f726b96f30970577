-- Lists documents newest first from a sorted-set index: list_page (page.lua)
-- run as a script of its own.
--
-- KEYS: 1 the index.
-- ARGV (named_args): prefix (of the document keys), limit, cursor_score
--       and cursor_member ("" for the first page), budget (how many index
--       entries to examine at most), status (to keep, or ""), expiring (a
--       status that reads as "expired" once expires_at has passed, or ""),
--       now.
-- Returns {documents, next} where next is {score, member} or nil.

local A = named_args()
local docs, next = list_page(KEYS[1], A.prefix, tonumber(A.limit), A.cursor_score, A.cursor_member, tonumber(A.budget),
  A.status, A.expiring, A.now)
if next then return {docs, next} end
return {docs}

-- Reads a page of a workflow's or a suite's failure groups, the latest seen
-- first, each with its sample from its failure record.
--
-- KEYS: 1 the scope's groups (hash: fingerprint -> count US first_ms US
--       last_ms US tests US workflows).
-- ARGV (named_args): failure_prefix (of the failure record keys), limit,
--       after_ms and after_fp (the last group of the page before; "" for
--       the first page).
-- Returns {rows, more}: rows alternate fingerprint, group and sample; more
-- is 1 when groups follow the page.
local A = named_args()
local US = '\31'
local all = redis.call('HGETALL', KEYS[1])
local groups = {}
for i = 1, #all, 2 do
  local last = tonumber(string.match(all[i + 1], '^[^' .. US .. ']*' .. US .. '[^' .. US .. ']*' .. US .. '(%d+)'))
  groups[#groups + 1] = {fp = all[i], packed = all[i + 1], last = last}
end
table.sort(groups, function(a, b)
  if a.last ~= b.last then return a.last > b.last end
  return a.fp < b.fp
end)
local after_ms, after_fp = tonumber(A.after_ms), A.after_fp
local rows, limit, more = {}, tonumber(A.limit), 0
for _, g in ipairs(groups) do
  if after_ms == nil or g.last < after_ms or (g.last == after_ms and g.fp > after_fp) then
    if #rows / 3 >= limit then more = 1; break end
    rows[#rows + 1] = g.fp
    rows[#rows + 1] = g.packed
    rows[#rows + 1] = redis.call('HGET', A.failure_prefix .. g.fp, 'm') or ''
  end
end
return {rows, more}

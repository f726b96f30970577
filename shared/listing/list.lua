-- Lists documents newest first from a sorted-set index, after a cursor,
-- skipping entries whose document has expired (the sweeper prunes them
-- later) and, with a status filter, documents in another status.
--
-- KEYS: 1 the index.
-- ARGV: 1 document key prefix, 2 limit, 3 cursor score or "", 4 cursor member,
--       5 how many index entries to examine at most, 6 status to keep or "",
--       7 a status that reads as "expired" once expires_at has passed, or "",
--       8 now.
-- Returns {documents, next} where next is {score, member} or nil.

local prefix, limit, cs, cm = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local budget = tonumber(ARGV[5])
local want, expiring, now = ARGV[6], ARGV[7], ARGV[8]

local function keep(doc)
  if want == '' then return true end
  local _, f = json_members(doc)
  local status = json_unquote(f['"status"'])
  if expiring ~= '' and status == expiring and f['"expires_at"'] and json_unquote(f['"expires_at"']) <= now then
    status = 'expired'
  end
  return status == want
end
local out = {}
local offset, examined = 0, 0
local last_s, last_m = nil, nil
local more = false
local max = cs ~= '' and cs or '+inf'
while true do
  local batch = redis.call('ZREVRANGEBYSCORE', KEYS[1], max, '-inf', 'WITHSCORES', 'LIMIT', offset, limit + 1)
  local n = #batch / 2
  if n == 0 then break end
  offset = offset + n
  local ids, scores, keys = {}, {}, {}
  for i = 1, #batch, 2 do
    local m, s = batch[i], batch[i + 1]
    if not (cs ~= '' and s == cs and m >= cm) then
      local j = #ids + 1
      ids[j] = m
      scores[j] = s
      keys[j] = prefix .. m
    end
  end
  if #keys > 0 then
    local docs = redis.call('MGET', unpack(keys))
    for i = 1, #keys do
      if #out == limit then more = true break end
      examined = examined + 1
      last_s, last_m = scores[i], ids[i]
      if docs[i] and keep(docs[i]) then out[#out + 1] = docs[i] end
    end
  end
  if more or n < limit + 1 then break end
  if examined >= budget then more = true break end
end
if more and last_s then return {out, {last_s, last_m}} end
return {out}

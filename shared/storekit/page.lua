-- list_page reads documents newest first from a sorted-set index, after a
-- cursor (score cs and member cm, or ""), skipping entries whose document
-- has expired (the sweeper prunes them later) and, with a status filter
-- (want), documents in another status; a document in status expiring reads
-- as "expired" once its expires_at is before now. It examines at most
-- budget entries, and returns the documents and the {score, member} of the
-- next page's cursor, or nil.
local function list_page(index, prefix, limit, cs, cm, budget, want, expiring, now)
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
    local batch = redis.call('ZREVRANGEBYSCORE', index, max, '-inf', 'WITHSCORES', 'LIMIT', offset, limit + 1)
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
  if more and last_s then return out, {last_s, last_m} end
  return out, nil
end

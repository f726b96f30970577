-- Reads the vector outbox's due fingerprints, with what their vectors need,
-- and drops the entries whose failure record is gone.
--
-- KEYS: 1 the vector outbox.
-- ARGV (named_args): now_ms, limit, failure_prefix (of the failure record
--       keys).
-- Returns {fingerprint, sample, occurrence, ...} (occurrence: workflow US
-- suite US test US at_ms, the latest) and whether more are due.
local A = named_args()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', A.now_ms, 'LIMIT', 0, tonumber(A.limit) + 1)
local out, more = {}, 0
for i, fp in ipairs(due) do
  if i > tonumber(A.limit) then more = 1; break end
  local rec = redis.call('HMGET', A.failure_prefix .. fp, 'm', 'o')
  if rec[1] then
    out[#out + 1] = fp
    out[#out + 1] = rec[1]
    out[#out + 1] = string.match(rec[2] or '', '^[^\30]*')
  else
    redis.call('ZREM', KEYS[1], fp)
  end
end
return {out, more}

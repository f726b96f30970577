-- Creates an approval: the document, its audit trail, and its entries in the
-- pending index (by expires_at), the workflow's index and the index of all
-- (by created_at), all with an Idempotency-Key record when one is given.
--
-- KEYS: 1 workflow state, 2 approval, 3 audit, 4 pending index,
--       5 workflow's approvals, 6 all approvals, 7 idempotency record.
-- ARGV: 1 document, 2 approval id, 3 ttl ms, 4 expires ms, 5 created ms,
--       6 requester (JSON string), 7 audit detail (JSON), 8 created_at, 9 idempotency
--       ("1" or "0"), 10 request fingerprint, 11 idempotency ttl ms.
-- Returns {"ok", doc}, {"replay", answer}, {"mismatch"} or {"no_workflow"}.

if ARGV[9] == '1' then
  local rec = redis.call('GET', KEYS[7])
  if rec then
    local _, f = json_members(rec)
    if f['"fingerprint"'] ~= '"' .. ARGV[10] .. '"' then return {'mismatch'} end
    return {'replay', f['"answer"']}
  end
end
if redis.call('EXISTS', KEYS[1]) == 0 then return {'no_workflow'} end

local id = ARGV[2]
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
audit_push(KEYS[3], 'created', ARGV[6], ARGV[7], ARGV[8], true) -- a new id: a new trail
redis.call('PEXPIRE', KEYS[3], ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[4], id)
redis.call('ZADD', KEYS[5], ARGV[5], id)
redis.call('ZADD', KEYS[6], ARGV[5], id)
if ARGV[9] == '1' then
  redis.call('SET', KEYS[7], '{"fingerprint":"' .. ARGV[10] .. '","answer":' .. ARGV[1] .. '}', 'PX', ARGV[11])
end
return {'ok', ARGV[1]}

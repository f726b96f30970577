-- Stores a test result unless its test_id is taken, and adds it to its
-- workflow's index by executed_at.
--
-- KEYS: 1 result, 2 the workflow's results index.
-- ARGV (named_args): doc, id, ttl_ms, executed_ms.
-- Returns {"ok", document} or {"exists"}: the answer, so that a replay of it
-- (Idempotency-Key) is the same answer.
local A = named_args()
if redis.call('SET', KEYS[1], A.doc, 'NX', 'PX', A.ttl_ms) then
  redis.call('ZADD', KEYS[2], A.executed_ms, A.id)
  return {'ok', A.doc}
end
return {'exists'}

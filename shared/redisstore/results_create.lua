-- Stores a test result unless its test_id is taken, and adds it to its
-- workflow's index by executed_at.
--
-- KEYS: 1 result, 2 the workflow's results index.
-- ARGV: 1 document, 2 test id, 3 ttl ms, 4 executed_at ms.
-- Returns {"ok", document} or {"exists"}: the answer, so that a replay of it
-- (Idempotency-Key) is the same answer.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[3]) then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
  return {'ok', ARGV[1]}
end
return {'exists'}

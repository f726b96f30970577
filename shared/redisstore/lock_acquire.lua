-- Takes a lock if it is free. KEYS: 1 lock. ARGV (named_args): token,
-- ttl_ms, now_ms. Returns {"ok", token, expires ms} or {"held", expires ms}:
-- the answer itself, so that a replay of it (Idempotency-Key) is the same
-- answer.
local A = named_args()
if redis.call('SET', KEYS[1], A.token, 'NX', 'PX', A.ttl_ms) then
  return {'ok', A.token, tostring(tonumber(A.now_ms) + tonumber(A.ttl_ms))}
end
return {'held', tostring(tonumber(A.now_ms) + redis.call('PTTL', KEYS[1]))}

-- Takes a lock if it is free. KEYS: 1 lock. ARGV: 1 token, 2 ttl ms, 3 now ms.
-- Returns {"ok", token, expires ms} or {"held", expires ms}: the answer
-- itself, so that a replay of it (Idempotency-Key) is the same answer.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {'ok', ARGV[1], tostring(tonumber(ARGV[3]) + tonumber(ARGV[2]))}
end
return {'held', tostring(tonumber(ARGV[3]) + redis.call('PTTL', KEYS[1]))}

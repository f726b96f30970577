-- Takes a lock if it is free. KEYS: 1 lock. ARGV: 1 token, 2 ttl ms.
-- Returns {"ok"} or {"held", remaining ms}.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'ok'} end
return {'held', redis.call('PTTL', KEYS[1])}

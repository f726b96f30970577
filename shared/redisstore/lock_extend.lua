-- Extends a lock for its holder. KEYS: 1 lock. ARGV: 1 token, 2 ttl ms,
-- 3 now ms. Returns {"ok", expires ms}, {"free"} or {"other", expires ms}.
local cur = redis.call('GET', KEYS[1])
if not cur then return {'free'} end
if cur ~= ARGV[1] then return {'other', tostring(tonumber(ARGV[3]) + redis.call('PTTL', KEYS[1]))} end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {'ok', tostring(tonumber(ARGV[3]) + tonumber(ARGV[2]))}

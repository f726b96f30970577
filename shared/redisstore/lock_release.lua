-- Releases a lock for its holder. KEYS: 1 lock. ARGV: 1 token, 2 now ms.
-- Returns {"ok"}, {"free"} or {"other", expires ms}.
local cur = redis.call('GET', KEYS[1])
if not cur then return {'free'} end
if cur ~= ARGV[1] then return {'other', tostring(tonumber(ARGV[2]) + redis.call('PTTL', KEYS[1]))} end
redis.call('DEL', KEYS[1])
return {'ok'}

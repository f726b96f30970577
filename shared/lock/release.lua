-- Releases a lock for its holder. KEYS: 1 lock. ARGV: 1 token.
-- Returns {"ok"}, {"free"} or {"other", remaining ms}.
local cur = redis.call('GET', KEYS[1])
if not cur then return {'free'} end
if cur ~= ARGV[1] then return {'other', redis.call('PTTL', KEYS[1])} end
redis.call('DEL', KEYS[1])
return {'ok'}

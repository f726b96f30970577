-- Releases a lock for its holder. KEYS: 1 lock. ARGV (named_args): token,
-- now_ms. Returns {"ok"}, {"free"} or {"other", expires ms}.
local A = named_args()
local cur = redis.call('GET', KEYS[1])
if not cur then return {'free'} end
if cur ~= A.token then return {'other', tostring(tonumber(A.now_ms) + redis.call('PTTL', KEYS[1]))} end
redis.call('DEL', KEYS[1])
return {'ok'}

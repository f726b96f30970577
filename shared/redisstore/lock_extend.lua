-- Extends a lock for its holder. KEYS: 1 lock. ARGV (named_args): token,
-- ttl_ms, now_ms. Returns {"ok", expires ms}, {"free"} or {"other", expires
-- ms}.
local A = named_args()
local cur = redis.call('GET', KEYS[1])
if not cur then return {'free'} end
if cur ~= A.token then return {'other', tostring(tonumber(A.now_ms) + redis.call('PTTL', KEYS[1]))} end
redis.call('PEXPIRE', KEYS[1], A.ttl_ms)
return {'ok', tostring(tonumber(A.now_ms) + tonumber(A.ttl_ms))}

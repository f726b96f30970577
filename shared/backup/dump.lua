-- Reads a page of keys for a backup: each key's type, remaining TTL (ms, -1
-- for none) and value, in one round trip. A key that expired since SCAN
-- comes back as type "none".
--
-- KEYS: the keys. Returns {{key, type, pttl, value}, ...}.
local out = {}
for i, k in ipairs(KEYS) do
  local t = redis.call('TYPE', k)
  if type(t) == 'table' then t = t['ok'] end
  local v = false
  if t == 'string' then v = redis.call('GET', k)
  elseif t == 'hash' then v = redis.call('HGETALL', k)
  elseif t == 'zset' then v = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')
  elseif t == 'set' then v = redis.call('SMEMBERS', k)
  elseif t == 'list' then v = redis.call('LRANGE', k, 0, -1)
  elseif t == 'stream' then v = redis.call('XRANGE', k, '-', '+')
  end
  out[i] = {k, t, redis.call('PTTL', k), v}
end
return out

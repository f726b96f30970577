-- Expires due approvals: each one still pending whose expires_at has
-- passed turns "expired", keeps its audit and document for the retention
-- period from now, leaves the pending index, and, with a callback, queues
-- its approval.expired webhook. An approval decided in the meantime is left
-- as it is, so running this twice expires nothing twice.
--
-- KEYS: 1 pending index, 2 outbox, then per approval: its key, its audit.
-- ARGV (named_args): now, now_ms, retention_ms, and per approval i (in
--       the order of KEYS): id.i and delivery.i (its webhook's delivery id).
-- Returns the number expired.

local A = named_args()
local now, now_ms, retention = A.now, A.now_ms, A.retention_ms
local expired = 0
local n = (#KEYS - 2) / 2
for i = 1, n do
  local key, audit = KEYS[1 + 2 * i], KEYS[2 + 2 * i]
  local id, delivery = A['id.' .. i], A['delivery.' .. i]
  local cur = redis.call('GET', key)
  if not cur then
    redis.call('ZREM', KEYS[1], id)
  else
    local keys, f = json_members(cur)
    if json_unquote(f['"status"']) ~= PENDING then
      redis.call('ZREM', KEYS[1], id)
    elseif json_unquote(f['"expires_at"']) <= now then
      f['"status"'] = '"expired"'
      redis.call('SET', key, json_object(keys, f), 'PX', retention)
      audit_push(audit, 'expired', 'null', '{"expires_at":' .. f['"expires_at"'] .. '}', now)
      redis.call('PEXPIRE', audit, retention)
      redis.call('ZREM', KEYS[1], id)
      if f['"callback_url"'] ~= 'null' then
        redis.call('ZADD', KEYS[2], now_ms, delivery .. '|' .. id .. '|approval.expired|' .. now_ms)
      end
      expired = expired + 1
    end
  end
end
return expired

-- Runs out due approvals: each one still pending whose expires_at has
-- passed takes its on_timeout outcome. "expired" (the default, and an
-- approval stored before on_timeout) turns it expired, with an "expired"
-- audit event and, with a callback, an approval.expired webhook. "approved"
-- or "rejected" decides it by the timeout: the decision {"decision",
-- "approver": null, "by": "timeout", "decided_at": expires_at}, a "decided"
-- audit event by the actor "timeout" and, with a callback, an
-- approval.decided webhook. Either way it keeps its audit and document for
-- the retention period from now and leaves the pending index. An approval
-- decided in the meantime is left as it is, so running this twice runs out
-- nothing twice.
--
-- KEYS: 1 pending index, 2 outbox, then per approval: its key, its audit.
-- ARGV (named_args): now, now_ms, retention_ms, and per approval i (in
--       the order of KEYS): id.i and delivery.i (its webhook's delivery id).
-- Returns the number run out.

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
      local event = 'approval.expired'
      if timed_out_decided(f) then
        local decision = '{"decision":' .. f['"on_timeout"'] .. ',"approver":null,"by":"timeout","decided_at":' .. f['"expires_at"'] .. '}'
        f['"status"'] = f['"on_timeout"']
        f['"decision"'] = decision
        audit_push(audit, 'decided', '"timeout"', decision, now)
        event = 'approval.decided'
      else
        f['"status"'] = '"expired"'
        audit_push(audit, 'expired', 'null', '{"expires_at":' .. f['"expires_at"'] .. '}', now)
      end
      redis.call('SET', key, json_object(keys, f), 'PX', retention)
      redis.call('PEXPIRE', audit, retention)
      redis.call('ZREM', KEYS[1], id)
      if f['"callback_url"'] ~= 'null' then
        redis.call('ZADD', KEYS[2], now_ms, delivery .. '|' .. id .. '|' .. event .. '|' .. now_ms)
      end
      expired = expired + 1
    end
  end
end
return expired

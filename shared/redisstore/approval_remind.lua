-- Queues due reminders, each at most once: a reminder leaves the reminders
-- index as it is read, and an approval's reminders_sent only grows, so two
-- sweeps that overlap cannot send one twice. A reminder of an approval
-- that is no longer pending, has run out, or is gone is dropped. A late
-- reminder whose approval has a later one due too is dropped with it sent:
-- only the last one due is sent.
--
-- Each reminder sent adds a "reminded" audit event and queues
-- approval.reminder to the callback, if there is one, and, with notify, to
-- the notification endpoint of an approval with approvers.
--
-- KEYS: 1 reminders index, 2 outbox, then per reminder: its approval's key
--       and audit.
-- ARGV (named_args): now, now_ms, notify ("1" or "0"), and per reminder i
--       (in the order of KEYS): member.i, id.i, n.i (which of the
--       approval's reminders), delivery.i and notify_delivery.i (the
--       webhooks' delivery ids).
-- Returns the number of reminders sent.

local A = named_args()
local sent = 0
for i = 1, (#KEYS - 2) / 2 do
  local key, audit = KEYS[1 + 2 * i], KEYS[2 + 2 * i]
  local id, n = A['id.' .. i], tonumber(A['n.' .. i])
  redis.call('ZREM', KEYS[1], A['member.' .. i])
  local cur = redis.call('GET', key)
  if cur then
    local keys, f = json_members(cur)
    local before = tonumber(f['"reminders_sent"'] or '0')
    if json_unquote(f['"status"']) == PENDING and json_unquote(f['"expires_at"']) > A.now and n > before then
      if not f['"reminders_sent"'] then keys[#keys + 1] = '"reminders_sent"' end
      f['"reminders_sent"'] = tostring(n)
      redis.call('SET', key, json_object(keys, f), 'KEEPTTL')
      audit_push(audit, 'reminded', 'null', '{"reminder":' .. n .. '}', A.now)
      if f['"callback_url"'] ~= 'null' then
        redis.call('ZADD', KEYS[2], A.now_ms, A['delivery.' .. i] .. '|' .. id .. '|approval.reminder|' .. A.now_ms)
      end
      if A.notify == '1' and f['"voters"'] then
        redis.call('ZADD', KEYS[2], A.now_ms, A['notify_delivery.' .. i] .. '|' .. id .. '|approval.reminder|' .. A.now_ms .. '|notify')
      end
      sent = sent + 1
    end
  end
end
return sent

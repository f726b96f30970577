-- Creates an approval: the document, its audit trail, its entries in the
-- pending index (by expires_at), the workflow's index and the index of all
-- (by created_at), its reminders' entries (by when each falls due) and, for
-- the notification endpoint, its approval.requested outbox entry.
--
-- KEYS: 1 workflow state, 2 approval, 3 audit, 4 pending index,
--       5 workflow's approvals, 6 all approvals, 7 reminders, 8 outbox.
-- ARGV (named_args): doc, id, ttl_ms, expires_ms, created_ms, requester
--       (a JSON string), detail (the audit event's, JSON), created_at,
--       client (the calling client's name, or ""),
--       reminders (how many), remind_ms.i (when the ith falls due), notify
--       (the approval.requested outbox member, or "").
-- Returns {"ok", doc, outbox member or ""} or {"no_workflow"}.

if redis.call('EXISTS', KEYS[1]) == 0 then return {'no_workflow'} end

local A = named_args()
CLIENT = A.client or ''
local id = A.id
redis.call('SET', KEYS[2], A.doc, 'PX', A.ttl_ms)
audit_push(KEYS[3], 'created', A.requester, A.detail, A.created_at, true) -- a new id: a new trail
redis.call('PEXPIRE', KEYS[3], A.ttl_ms)
redis.call('ZADD', KEYS[4], A.expires_ms, id)
redis.call('ZADD', KEYS[5], A.created_ms, id)
redis.call('ZADD', KEYS[6], A.created_ms, id)
for i = 1, tonumber(A.reminders) do
  redis.call('ZADD', KEYS[7], A['remind_ms.' .. i], id .. '|' .. i)
end
if A.notify ~= '' then redis.call('ZADD', KEYS[8], A.created_ms, A.notify) end
return {'ok', A.doc, A.notify}

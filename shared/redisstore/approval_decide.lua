-- Decides an approval, once: the first decision wins, the same decision by
-- the same approver again is answered as it was, and an expired approval
-- cannot be decided: once past its expires_at, an approval whose
-- on_timeout is approved or rejected is decided by the timeout (an answer of
-- "decided"), and any other is "gone". The decision, the retention TTL, leaving the pending
-- index, the audit event and, for a callback, the webhook's outbox entry
-- are written together, so no decision can lose its webhook.
--
-- KEYS: 1 approval, 2 audit, 3 pending index, 4 outbox.
-- ARGV (named_args): decision, approver (a JSON string), comment (a JSON
--       string, or ""), now, now_ms, allow_self ("1" or "0"), retention_ms,
--       delivery (the webhook's delivery id), approver_key (the approver's
--       canonical form, a JSON string, compared with the stored
--       requester_key or, on approvals stored before it, the requester),
--       client (the calling client's name, or "").
-- Returns {"ok", doc, outbox member or ""}, {"same", doc}, {"decided", doc},
-- {"gone", doc}, {"self"}, {"not_found"}, or {"links"} for an approval
-- that lists approvers, which is decided only through their links.

local A = named_args()
CLIENT = A.client or ''
local cur = redis.call('GET', KEYS[1])
if not cur then return {'not_found'} end
local keys, f = json_members(cur)
if f['"voters"'] then return {'links'} end
local status = json_unquote(f['"status"'])
if status == APPROVED or status == REJECTED then
  local _, d = json_members(f['"decision"'])
  if json_unquote(d['"decision"']) == A.decision and d['"approver"'] == A.approver then return {'same', cur} end
  return {'decided', cur}
end
if status ~= PENDING or json_unquote(f['"expires_at"']) <= A.now then
  if timed_out_decided(f) then return {'decided', cur} end
  return {'gone', cur}
end
if A.allow_self ~= '1' then
  local rk = f['"requester_key"']
  if (rk and rk == A.approver_key) or (not rk and f['"requester"'] == A.approver) then return {'self'} end
end

local decision = '{"decision":"' .. A.decision .. '","approver":' .. A.approver
if A.comment ~= '' then decision = decision .. ',"comment":' .. A.comment end
decision = decision .. ',"by":"approver","decided_at":"' .. A.now .. '"}'
f['"status"'] = '"' .. A.decision .. '"'
f['"decision"'] = decision
local doc = json_object(keys, f)
local id = json_unquote(f['"approval_id"'])

redis.call('SET', KEYS[1], doc, 'PX', A.retention_ms)
redis.call('ZREM', KEYS[3], id)
audit_push(KEYS[2], 'decided', A.approver, decision, A.now)
redis.call('PEXPIRE', KEYS[2], A.retention_ms)
local member = ''
if f['"callback_url"'] ~= 'null' then
  member = A.delivery .. '|' .. id .. '|approval.decided|' .. A.now_ms
  redis.call('ZADD', KEYS[4], A.now_ms, member)
end
return {'ok', doc, member}

-- Decides an approval, once: the first decision wins, the same decision by
-- the same approver again is answered as it was, and an expired approval
-- cannot be decided. The decision, the retention TTL, leaving the pending
-- index, the audit event and, for a callback, the webhook's outbox entry
-- are written together, so no decision can lose its webhook.
--
-- KEYS: 1 approval, 2 audit, 3 pending index, 4 outbox.
-- ARGV: 1 decision, 2 approver (JSON string), 3 comment (JSON string or ""),
--       4 now, 5 allow self-approval ("1" or "0"), 6 retention ms,
--       7 delivery id, 8 approver (text), 9 now ms, 10 the approver's
--       canonical form (JSON string), compared with the stored
--       requester_key (or, on approvals stored before it, the requester).
-- Returns {"ok", doc, outbox member or ""}, {"same", doc}, {"decided", doc},
-- {"gone", doc}, {"self"} or {"not_found"}.

local cur = redis.call('GET', KEYS[1])
if not cur then return {'not_found'} end
local keys, f = json_members(cur)
local status = json_unquote(f['"status"'])
if status == APPROVED or status == REJECTED then
  local _, d = json_members(f['"decision"'])
  if json_unquote(d['"decision"']) == ARGV[1] and d['"approver"'] == ARGV[2] then return {'same', cur} end
  return {'decided', cur}
end
if status ~= PENDING or json_unquote(f['"expires_at"']) <= ARGV[4] then return {'gone', cur} end
if ARGV[5] ~= '1' then
  local rk = f['"requester_key"']
  if (rk and rk == ARGV[10]) or (not rk and f['"requester"'] == ARGV[2]) then return {'self'} end
end

local decision = '{"decision":"' .. ARGV[1] .. '","approver":' .. ARGV[2]
if ARGV[3] ~= '' then decision = decision .. ',"comment":' .. ARGV[3] end
decision = decision .. ',"decided_at":"' .. ARGV[4] .. '"}'
f['"status"'] = '"' .. ARGV[1] .. '"'
f['"decision"'] = decision
local doc = json_object(keys, f)
local id = json_unquote(f['"approval_id"'])

redis.call('SET', KEYS[1], doc, 'PX', ARGV[6])
redis.call('ZREM', KEYS[3], id)
audit_push(KEYS[2], 'decided', ARGV[2], decision, ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
local member = ''
if f['"callback_url"'] ~= 'null' then
  member = ARGV[7] .. '|' .. id .. '|approval.decided|' .. ARGV[9]
  redis.call('ZADD', KEYS[4], ARGV[9], member)
end
return {'ok', doc, member}

-- Records one approver's vote on an approval that lists approvers, once:
-- the same vote again is answered as it stands, another vote by the same
-- approver, or any vote on a final approval, is refused. The vote that
-- makes the outcome final (approval.Outcome: min_approvals approvals, or a
-- veto, or too few approvals left to come) decides the approval, with the
-- retention TTL, leaving the pending index, the audit events and, for a
-- callback, the webhook's outbox entry, all in this one step.
--
-- KEYS: 1 approval, 2 audit, 3 pending index, 4 outbox.
-- ARGV (named_args): index (the approver's, in approvers), decision,
--       comment (a JSON string, or ""), now, now_ms, retention_ms, delivery
--       (the webhook's delivery id).
-- Returns {"ok", doc, outbox member or ""}, {"same", doc}, {"conflict", doc},
-- {"final", doc}, {"gone", doc} or {"not_found"}.

local A = named_args()
local cur = redis.call('GET', KEYS[1])
if not cur then return {'not_found'} end
local keys, f = json_members(cur)
if not f['"voters"'] then return {'not_found'} end
local voter_keys, voters = json_members(f['"voters"'])
local approver = voters['"' .. A.index .. '"']
if not approver then return {'not_found'} end

-- Votes are written by this script as {"approver":...,"decision":"...",...}:
-- in canonical JSON that text cannot occur inside a comment.
local votes = f['"votes"']
local head = '{"approver":' .. approver .. ',"decision":"'
local at = string.find(votes, head, 1, true)
if at then
  local prev = string.match(votes, '^(%a+)"', at + #head)
  if prev == A.decision then return {'same', cur} end
  return {'conflict', cur}
end
if json_unquote(f['"status"']) ~= PENDING then return {'final', cur} end
if json_unquote(f['"expires_at"']) <= A.now then
  if timed_out_decided(f) then return {'final', cur} end
  return {'gone', cur}
end

local vote = head .. A.decision .. '"'
if A.comment ~= '' then vote = vote .. ',"comment":' .. A.comment end
vote = vote .. ',"voted_at":"' .. A.now .. '"}'
if votes == '[]' then votes = '[' .. vote .. ']' else votes = string.sub(votes, 1, -2) .. ',' .. vote .. ']' end
f['"votes"'] = votes

local approvals, rejections = 0, 0
for _ in string.gmatch(votes, ',"decision":"' .. APPROVED .. '"') do approvals = approvals + 1 end
for _ in string.gmatch(votes, ',"decision":"' .. REJECTED .. '"') do rejections = rejections + 1 end
local n, min = #voter_keys, tonumber(f['"min_approvals"'])
local outcome = PENDING
if rejections > 0 or approvals + (n - approvals - rejections) < min then
  outcome = REJECTED
elseif approvals >= min then
  outcome = APPROVED
end

local detail = '{"decision":"' .. A.decision .. '"'
if A.comment ~= '' then detail = detail .. ',"comment":' .. A.comment end
audit_push(KEYS[2], 'voted', approver, detail .. '}', A.now)
local member = ''
local doc
if outcome == PENDING then
  doc = json_object(keys, f)
  redis.call('SET', KEYS[1], doc, 'KEEPTTL')
  return {'ok', doc, member}
end
local id = json_unquote(f['"approval_id"'])
local decision = '{"decision":"' .. outcome .. '","approver":' .. approver
if A.comment ~= '' then decision = decision .. ',"comment":' .. A.comment end
decision = decision .. ',"by":"approver","decided_at":"' .. A.now .. '"}'
f['"status"'] = '"' .. outcome .. '"'
f['"decision"'] = decision
doc = json_object(keys, f)
redis.call('SET', KEYS[1], doc, 'PX', A.retention_ms)
redis.call('ZREM', KEYS[3], id)
audit_push(KEYS[2], 'decided', approver, decision, A.now)
redis.call('PEXPIRE', KEYS[2], A.retention_ms)
if f['"callback_url"'] ~= 'null' then
  member = A.delivery .. '|' .. id .. '|approval.decided|' .. A.now_ms
  redis.call('ZADD', KEYS[4], A.now_ms, member)
end
return {'ok', doc, member}

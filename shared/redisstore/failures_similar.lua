-- Reads where each failure the vector index found was last seen, outside
-- one workflow, and that workflow's state.
--
-- KEYS: each failure's record.
-- ARGV (named_args): exclude (a workflow id, or ""), workflow_prefix (of
--       the workflow state keys).
-- Returns, per key, {sample, occurrence, state}: occurrence is workflow US
-- suite US test US at_ms, "" when the failure is gone or was seen only in
-- the excluded workflow; state is the workflow's document, or "".
local A = named_args()
local US, RS = '\31', '\30'
local out = {}
for i, key in ipairs(KEYS) do
  local rec = redis.call('HMGET', key, 'm', 'o')
  local occ, doc = '', ''
  if rec[1] then
    for o in string.gmatch(rec[2] or '', '[^' .. RS .. ']+') do
      local wf = string.match(o, '^[^' .. US .. ']*')
      if wf ~= A.exclude then
        occ = o
        doc = redis.call('GET', A.workflow_prefix .. wf) or ''
        break
      end
    end
  end
  out[i] = {rec[1] or '', occ, doc}
end
return out

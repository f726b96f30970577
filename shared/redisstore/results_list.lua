-- One page of a workflow's results (list_page), and the summary of every
-- run it keeps, in one round trip.
--
-- KEYS: 1 the workflow's results index.
-- ARGV (named_args): prefix (of the result keys), limit, cursor_score and
--       cursor_member ("" for the first page), budget.
-- Returns {page, next or false, {runs, passed, failed, skipped, latest}}.

local A = named_args()
local docs, next = list_page(KEYS[1], A.prefix, tonumber(A.limit), A.cursor_score, A.cursor_member, tonumber(A.budget), '', '', '')

local runs, passed, failed, skipped, latest = 0, 0, 0, 0, ''
local ids = redis.call('ZREVRANGE', KEYS[1], 0, -1)
for i = 1, #ids, 500 do
  local keys = {}
  for j = i, math.min(i + 499, #ids) do keys[#keys + 1] = A.prefix .. ids[j] end
  local all = redis.call('MGET', unpack(keys))
  for j = 1, #keys do
    local d = all[j]
    if d then
      local _, f = json_members(d)
      runs = runs + 1
      passed = passed + tonumber(f['"passed"'])
      failed = failed + tonumber(f['"failed"'])
      skipped = skipped + tonumber(f['"skipped"'])
      if latest == '' then latest = ids[i + j - 1] end
    end
  end
end
local summary = {tostring(runs), string.format('%.0f', passed), string.format('%.0f', failed), string.format('%.0f', skipped), latest}
return {docs, next or false, summary}

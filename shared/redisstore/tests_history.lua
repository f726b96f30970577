-- Reads a page of one test's history, newest first.
--
-- KEYS: 1 the suite's test histories, 2 the suite's runs.
-- ARGV (named_args): test, limit, before (a run number: the page starts
--       after it; "" for the first page), now_ms, keep_ms.
-- Returns {next, entries} where entries alternate a history entry
-- ("run:outcome:ms") and its run, and next is the run number to resume
-- before, or "" on the last page.
local A = named_args()
local h = redis.call('HGET', KEYS[1], A.test)
if not h then return {'', {}} end
local lo = tonumber(redis.call('HGET', KEYS[2], 'lo') or '1')
local before, limit, oldest = tonumber(A.before), tonumber(A.limit), tonumber(A.now_ms) - tonumber(A.keep_ms)
local out, last = {}, nil
for e in string.gmatch(h, '[^;]+') do
  local r = tonumber(string.match(e, '^%d+'))
  if r >= lo and (before == nil or r < before) then
    local info = redis.call('HGET', KEYS[2], r)
    if info and tonumber(string.match(info, '^%d+')) >= oldest then
      if #out / 2 >= limit then return {tostring(last), out} end
      out[#out + 1] = e
      out[#out + 1] = info
      last = r
    end
  end
end
return {'', out}

-- Reads what the flaky rules judge: for each test of a suite that both
-- passed and failed in its window, the window.
--
-- KEYS: 1 the suite's test histories, 2 the suite's runs.
-- ARGV (named_args): window (how many runs that passed or failed to read
--       per test), workflow (only its runs; "" for all), now_ms, keep_ms.
-- Returns {tests, runs}: tests alternate a test's name and its window
-- ("run:outcome:ms;...", newest first), runs alternate a run number the
-- windows name and the run.
local A = named_args()
local US = '\31'
local window, wf, oldest = tonumber(A.window), A.workflow, tonumber(A.now_ms) - tonumber(A.keep_ms)
local runs, live = redis.call('HGETALL', KEYS[2]), {}
for i = 1, #runs, 2 do
  local r, info = runs[i], runs[i + 1]
  if string.match(r, '^%d+$') then
    local ingest, rest = string.match(info, '^(%d+)' .. US .. '[^' .. US .. ']*' .. US .. '([^' .. US .. ']*)')
    if tonumber(ingest) >= oldest and (wf == '' or rest == wf) then live[r] = info end
  end
end
local all, tests, used = redis.call('HGETALL', KEYS[1]), {}, {}
for i = 1, #all, 2 do
  local win, passed, failed = {}, false, false
  for e in string.gmatch(all[i + 1], '[^;]+') do
    local r, o = string.match(e, '^(%d+):(%a)')
    if live[r] and (o == 'p' or o == 'f') then
      win[#win + 1] = e
      if o == 'p' then passed = true else failed = true end
      if #win >= window then break end
    end
  end
  if passed and failed then
    tests[#tests + 1] = all[i]
    tests[#tests + 1] = table.concat(win, ';')
    for _, e in ipairs(win) do used[string.match(e, '^%d+')] = true end
  end
end
local out = {}
for r in pairs(used) do
  out[#out + 1] = r
  out[#out + 1] = live[r]
end
return {tests, out}

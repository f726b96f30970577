-- Stores a test result unless its test_id is taken, adds it to its
-- workflow's index by executed_at, and records the run in the failure
-- memory: each case's outcome in its test's history, each failure in its
-- groups, and each fingerprint not seen before in the vector outbox.
--
-- KEYS: 1 result, 2 the workflow's results index, 3 the suite's test
--       histories (hash: test -> runs), 4 the suite's runs (hash: run
--       number -> ingest_ms US at_ms US workflow US commit US attempt; "n",
--       the last run number; "lo", the oldest run kept; "pc", where the
--       pruning of tests that no longer run goes on), 5 the workflow's
--       failure groups, 6 the suite's failure groups (hashes: fingerprint
--       -> group), 7 the vector outbox, 8... each group's failure record,
--       in the order of groups.
-- ARGV (named_args): doc, id, ttl_ms, executed_ms, now_ms, keep_ms (how long
--       the memory keeps a run), max_runs, run (at_ms US workflow US commit
--       US attempt), cases (RS-separated test US "outcome:duration_ms"),
--       groups (RS-separated fingerprint US count US tests (GS-separated)
--       US sample), workflow, suite, grace_ms (when the outbox's entries
--       fall due), outbox ("1" when a vector index is configured),
--       recent (how many workflows a failure record keeps), max_tests and
--       max_workflows (how many names a group keeps), prune_count (how many
--       tests a run looks at for pruning).
--
-- A history is the runs of a test, newest first: "run:outcome:ms;...".
-- A group is count US first_ms US last_ms US tests US workflows, names
-- GS-separated, the latest first; its sample is in the failure record,
-- kept once. A failure record is a hash: m the sample (the first message),
-- f first_ms, l last_ms, c count, o the latest occurrences (RS-separated
-- workflow US suite US test US at_ms, one per workflow). It lives as long
-- as the longest-lived of its groups.
--
-- Returns {"ok", document, new fingerprint...} or {"exists"}: the answer,
-- so that a replay of it (Idempotency-Key) is the same answer.
local A = named_args()
if not redis.call('SET', KEYS[1], A.doc, 'NX', 'PX', A.ttl_ms) then
  return {'exists'}
end
redis.call('ZADD', KEYS[2], A.executed_ms, A.id)

local US, RS, GS = '\31', '\30', '\29'
local function split(s, sep)
  local out = {}
  if not s or s == '' then return out end
  local i = 1
  while true do
    local j = string.find(s, sep, i, true)
    if not j then out[#out + 1] = string.sub(s, i); return out end
    out[#out + 1] = string.sub(s, i, j - 1)
    i = j + 1
  end
end
-- merge_names puts the names of fresh first, then those of old not in
-- fresh, at most max.
local function merge_names(fresh, old, max)
  local out, seen = {}, {}
  for _, list in ipairs({fresh, old}) do
    for _, n in ipairs(list) do
      if #out >= max then return out end
      if not seen[n] then seen[n] = true; out[#out + 1] = n end
    end
  end
  return out
end

local now, keep, at = tonumber(A.now_ms), tonumber(A.keep_ms), A.executed_ms
local hist, runs = KEYS[3], KEYS[4]
local out = {'ok', A.doc}

-- The run, and the runs that fell out of the window.
local run = redis.call('HINCRBY', runs, 'n', 1)
redis.call('HSET', runs, run, A.now_ms .. US .. A.run)
local lo = tonumber(redis.call('HGET', runs, 'lo') or '1')
while lo < run do
  local r = redis.call('HGET', runs, lo)
  if r and tonumber(string.match(r, '^%d+')) >= now - keep then break end
  if r then redis.call('HDEL', runs, lo) end
  lo = lo + 1
end
redis.call('HSET', runs, 'lo', lo)
redis.call('PEXPIRE', runs, keep)

-- The histories, in chunks, so that no call takes too many arguments.
local cases, max_runs = split(A.cases, RS), tonumber(A.max_runs)
local chunk = 250
for c = 1, #cases, chunk do
  local names, entries = {}, {}
  for i = c, math.min(c + chunk - 1, #cases) do
    local p = split(cases[i], US)
    names[#names + 1] = p[1]
    entries[#entries + 1] = run .. ':' .. p[2]
  end
  local old = redis.call('HMGET', hist, unpack(names))
  local set = {}
  for i, name in ipairs(names) do
    local parts = {entries[i]}
    for e in string.gmatch(old[i] or '', '[^;]+') do
      if #parts >= max_runs then break end
      if tonumber(string.match(e, '^%d+')) >= lo then parts[#parts + 1] = e end
    end
    set[#set + 1] = name
    set[#set + 1] = table.concat(parts, ';')
  end
  redis.call('HSET', hist, unpack(set))
end
if #cases > 0 then redis.call('PEXPIRE', hist, keep) end

-- Tests that no longer run: each run looks at a few more of the suite's
-- tests, from where the last one stopped ("pc", an HSCAN cursor), and drops
-- those whose newest run has left the window.
local scan = redis.call('HSCAN', hist, redis.call('HGET', runs, 'pc') or '0', 'COUNT', tonumber(A.prune_count))
for i = 1, #scan[2], 2 do
  local newest = tonumber(string.match(scan[2][i + 1], '^%d+'))
  if newest == nil or newest < lo then redis.call('HDEL', hist, scan[2][i]) end
end
redis.call('HSET', runs, 'pc', scan[1])

-- The failure groups, in the workflow's and the suite's, and each
-- fingerprint's record.
local groups = split(A.groups, RS)
if #groups > 0 then
  local fps, parsed = {}, {}
  for i, g in ipairs(groups) do
    local p = split(g, US)
    fps[i] = p[1]
    parsed[i] = {fp = p[1], count = tonumber(p[2]), tests = split(p[3], GS), sample = p[4] or ''}
  end
  for _, scope in ipairs({KEYS[5], KEYS[6]}) do
    local old = redis.call('HMGET', scope, unpack(fps))
    local set = {}
    for i, g in ipairs(parsed) do
      local count, first, last, tests, wfs = g.count, tonumber(at), tonumber(at), g.tests, {A.workflow}
      if old[i] then
        local o = split(old[i], US)
        count = count + tonumber(o[1])
        first = math.min(tonumber(o[2]), first)
        last = math.max(tonumber(o[3]), last)
        tests = merge_names(g.tests, split(o[4], GS), tonumber(A.max_tests))
        wfs = merge_names({A.workflow}, split(o[5], GS), tonumber(A.max_workflows))
      end
      set[#set + 1] = g.fp
      set[#set + 1] = table.concat({count, first, last, table.concat(tests, GS), table.concat(wfs, GS)}, US)
    end
    redis.call('HSET', scope, unpack(set))
    redis.call('PEXPIRE', scope, keep)
  end
  for i, g in ipairs(parsed) do
    local key = KEYS[7 + i]
    local rec = redis.call('HMGET', key, 'f', 'l', 'c', 'o')
    local occ = {A.workflow .. US .. A.suite .. US .. g.tests[1] .. US .. at}
    for _, o in ipairs(split(rec[4], RS)) do
      if #occ >= tonumber(A.recent) then break end
      if split(o, US)[1] ~= A.workflow then occ[#occ + 1] = o end
    end
    if not rec[1] then
      redis.call('HSET', key, 'm', g.sample, 'f', at, 'l', at, 'c', g.count, 'o', table.concat(occ, RS))
      if A.outbox == '1' then redis.call('ZADD', KEYS[7], 'NX', now + tonumber(A.grace_ms), g.fp) end
      out[#out + 1] = g.fp
    else
      redis.call('HSET', key, 'f', math.min(tonumber(rec[1]), tonumber(at)), 'l', math.max(tonumber(rec[2]), tonumber(at)),
        'c', tonumber(rec[3]) + g.count, 'o', table.concat(occ, RS))
    end
    redis.call('PEXPIRE', key, keep)
  end
end
return out

-- Creates, replaces fields of, or merge-patches a workflow, in one atomic
-- step: precondition, status transition, timestamps, TTL, indexes, history.
--
-- KEYS: 1 state, 2 history, 3 index of all, 4.. one index per status, in the
--       order of ARGV[6].
-- ARGV: 1 mode ("save" or "patch"), 2 workflow id, 3 now, 4 condition kind
--       ("", "match" or "none"), 5 condition versions ("*" or "1,2"),
--       6 statuses ("pending,in_progress,..."), 7 transitions
--       ("from:to,to;..."), 8 status or "", 9/10 has/feature_description
--       (raw JSON), 11/12 has/current_stage (raw JSON), 13/14 has/metadata
--       (raw JSON; for patch, a merge patch or null), 15/16 has/ttl_hours,
--       17 default ttl hours, 18 max metadata bytes, 19 max history.
-- Returns {"ok", state, created} or {"err", code, ...}.

local id, now = ARGV[2], ARGV[3]
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == 'patch' and not cur then return {'err', 'not_found'} end

local old = nil
if cur then
  local _, f = json_members(cur)
  old = f
end
local old_version = old and tonumber(old['"version"']) or 0

-- Preconditions: If-None-Match fails on a match, If-Match on a miss.
local kind, list = ARGV[4], ARGV[5]
if kind ~= '' then
  local matched = false
  if old then
    if list == '*' then
      matched = true
    else
      for v in string.gmatch(list, '[^,]+') do
        if tonumber(v) == old_version then matched = true end
      end
    end
  end
  if (kind == 'match' and not matched) or (kind == 'none' and matched) then
    return {'err', 'precondition', tostring(old_version)}
  end
end

-- The status rules.
local status_from = old and json_unquote(old['"status"']) or nil
local status = ARGV[8]
if status == '' then status = status_from or 'pending' end
if status_from and status ~= status_from then
  local allowed = ''
  for spec in string.gmatch(ARGV[7], '[^;]+') do
    local from, to = string.match(spec, '^([^:]*):(.*)$')
    if from == status_from then allowed = to end
  end
  local ok = false
  for s in string.gmatch(allowed, '[^,]+') do
    if s == status then ok = true end
  end
  if not ok then return {'err', 'transition', status_from, status, allowed} end
end

local function pick(has, value, field, default)
  if has == '1' then return value end
  if old then return old[field] end
  return default
end

if not old and ARGV[9] ~= '1' then return {'err', 'required', 'feature_description'} end
local fd = pick(ARGV[9], ARGV[10], '"feature_description"')
local stage = pick(ARGV[11], ARGV[12], '"current_stage"', '""')
local ttl = tonumber(pick(ARGV[15], ARGV[16], '"ttl_hours"', ARGV[17]))
local meta
if ARGV[13] ~= '1' then
  meta = old and old['"metadata"'] or '{}'
elseif ARGV[1] == 'patch' then
  if ARGV[14] == 'null' then meta = '{}' else meta = json_merge(old['"metadata"'], ARGV[14]) end
else
  meta = ARGV[14]
end
if #meta > tonumber(ARGV[18]) then return {'err', 'metadata_too_large', tostring(#meta)} end

local created_at = old and old['"created_at"'] or ('"' .. now .. '"')
local last_updated = ts_after(now, old and json_unquote(old['"last_updated"']) or nil)
local expires_at = ts_add(last_updated, ttl * 3600, 0)
local version = old_version + 1
local ttl_ms = ttl * 3600000

local doc = '{"workflow_id":"' .. id .. '","status":"' .. status .. '","feature_description":' .. fd ..
  ',"current_stage":' .. stage .. ',"created_at":' .. created_at .. ',"last_updated":"' .. last_updated ..
  '","ttl_hours":' .. ttl .. ',"version":' .. version .. ',"expires_at":"' .. expires_at ..
  '","metadata":' .. meta .. '}'
redis.call('SET', KEYS[1], doc, 'PX', ttl_ms)

local score = ts_millis(last_updated)
redis.call('ZADD', KEYS[3], score, id)
local i = 4
for s in string.gmatch(ARGV[6], '[^,]+') do
  if s == status then
    redis.call('ZADD', KEYS[i], score, id)
  elseif s == status_from then
    redis.call('ZREM', KEYS[i], id)
  end
  i = i + 1
end

history_push(KEYS[2], tonumber(ARGV[19]), old and 'updated' or 'created', version, status_from, status, stage, last_updated)
redis.call('PEXPIRE', KEYS[2], ttl_ms)
return {'ok', doc, old and '0' or '1'}

-- Creates, replaces fields of, or merge-patches a workflow, in one atomic
-- step: precondition, status transition, timestamps, TTL, indexes, history.
--
-- KEYS: 1 state, 2 history (from the first update on), 3 index of all, 4.. one index per status, in the
--       order of the statuses argument.
-- ARGV: named arguments, as name, value pairs (Go's writeArgs): mode ("save"
--       or "patch"), id, now (nanoseconds since the epoch), now_text (now as
--       RFC 3339, for times stored as text before), cond_kind ("", "match" or "none"),
--       cond_versions ("*" or "1,2"), statuses ("pending,in_progress,..."),
--       transitions ("from:to,to;..."), status (or ""), feature_description,
--       current_stage and metadata (raw JSON; left out to keep the stored
--       value; for a patch, metadata is a merge patch or null), fields (the
--       document's field names, in order: Go's workflow.State), ttl_hours
--       (left out to keep it), default_ttl_hours, max_metadata_bytes,
--       max_history and client (the calling client's name, or "").
-- Returns {"ok", state, created} or {"err", code, ...}, or {"retry",
-- last_updated}: a now later than that stored text time is needed.

local A = named_args()
CLIENT = A.client or ''
local function raw(name) return A[name] end
local function text(name) return A[name] or '' end
local mode = text('mode')

local id, now = text('id'), text('now')
local cur = redis.call('GET', KEYS[1])
if mode == 'patch' and not cur then return {'err', 'not_found'} end

local old = nil
if cur then
  local _, f = json_members(cur)
  old = f
end
local old_version = old and tonumber(old['"version"']) or 0

-- Preconditions: If-None-Match fails on a match, If-Match on a miss.
local kind, list = text('cond_kind'), text('cond_versions')
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
local status = text('status')
if status == '' then status = status_from or 'pending' end
if status_from and status ~= status_from then
  local allowed = ''
  for spec in string.gmatch(text('transitions'), '[^;]+') do
    local from, to = string.match(spec, '^([^:]*):(.*)$')
    if from == status_from then allowed = to end
  end
  local ok = false
  for s in string.gmatch(allowed, '[^,]+') do
    if s == status then ok = true end
  end
  if not ok then return {'err', 'transition', status_from, status, allowed} end
end

local function pick(name, default)
  local v = raw(name)
  if v ~= nil then return v end
  if old then return old['"' .. name .. '"'] end
  return default
end

if not old and raw('feature_description') == nil then return {'err', 'required', 'feature_description'} end
local fd = pick('feature_description')
local stage = pick('current_stage', '""')
local ttl = tonumber(pick('ttl_hours', raw('default_ttl_hours')))
local meta
local patch = raw('metadata')
if patch == nil then
  meta = old and old['"metadata"'] or '{}'
elseif mode == 'patch' then
  if patch == 'null' then meta = '{}' else meta = json_merge(old['"metadata"'], patch) end
else
  meta = patch
end
if #meta > tonumber(raw('max_metadata_bytes')) then return {'err', 'metadata_too_large', tostring(#meta)} end

local created_at = old and old['"created_at"'] or now
local last_updated = ns_after(now, old and old['"last_updated"'] or nil, text('now_text'))
if not last_updated then return {'retry', json_unquote(old['"last_updated"'])} end
local version = old_version + 1
local ttl_ms = ttl * 3600000

-- The document has the fields Go's workflow.State stores, in its order
-- (the fields argument), so its shape is stated once, in Go. A field this
-- script has no value for fails the write.
local values = {
  workflow_id = '"' .. id .. '"', status = '"' .. status .. '"', feature_description = fd,
  current_stage = stage, created_at = created_at, last_updated = last_updated, ttl_hours = tostring(ttl),
  version = tostring(version), metadata = meta,
  created_by = old and old['"created_by"'] or (CLIENT ~= '' and '"' .. CLIENT .. '"' or nil),
}
local parts = {}
for name in string.gmatch(text('fields'), '[^,]+') do
  local v = values[name]
  if v == nil and name ~= 'created_by' then return redis.error_reply('workflow_write: no value for the field ' .. name) end
  if v ~= nil then parts[#parts + 1] = '"' .. name .. '":' .. v end
end
local doc = '{' .. table.concat(parts, ',') .. '}'
redis.call('SET', KEYS[1], doc, 'PX', ttl_ms)

local score = ns_millis(last_updated)
redis.call('ZADD', KEYS[3], score, id)
local i = 4
for s in string.gmatch(text('statuses'), '[^,]+') do
  if s == status then
    redis.call('ZADD', KEYS[i], score, id)
  elseif s == status_from then
    redis.call('ZREM', KEYS[i], id)
  end
  i = i + 1
end

-- The history. A new workflow's "created" event is stored only when a
-- history is there already (from a workflow of that id, deleted): otherwise
-- the document says all it would, until the first update (history_push).
local max = tonumber(raw('max_history'))
if old then
  history_push(KEYS[2], max, old, 'updated', version, status_from, status, stage, last_updated)
  redis.call('PEXPIRE', KEYS[2], ttl_ms)
else
  local last = redis.call('LINDEX', KEYS[2], -1)
  if last then
    history_push(KEYS[2], max, nil, 'created', version, nil, status, stage, last_updated, last)
    redis.call('PEXPIRE', KEYS[2], ttl_ms)
  end
end
return {'ok', doc, old and '0' or '1'}

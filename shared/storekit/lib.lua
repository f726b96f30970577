-- Shared Lua helpers, prepended to the service's scripts.
--
-- JSON documents are handled as text, never with cjson: cjson behaves
-- differently on real Redis and miniredis (null decodes to cjson.null or to
-- nil, {} encodes as {} or []), and decoding user data would lose nulls on one
-- of them. Documents are written by the service in canonical compact JSON, so
-- a member's raw text can be cut out and put back unchanged.

-- named_args reads the script's arguments, which Go sends by name as name,
-- value pairs (storekit.Args), into a table: A.now, A['type.1'], over its
-- CONSTS. A name left out reads nil.
-- CONSTS are arguments fixed for a script's every call, written into its
-- source by Go (storekit.ScriptWith) rather than sent each time.
local CONSTS = {}
-- CLIENT is the name of the calling client (package access), which the
-- audit events a script writes record; scripts set it from their client
-- argument. "" for none (the sweeper, an approver's link).
local CLIENT = ''
local function named_args()
  local a = {}
  for k, v in pairs(CONSTS) do a[k] = v end
  for i = 1, #ARGV - 1, 2 do a[ARGV[i]] = ARGV[i + 1] end
  return a
end

-- json_members splits the JSON object in s into its keys (raw, quoted, in
-- order) and a table from raw key to raw value text.
local function json_members(s)
  local keys, vals = {}, {}
  local i, n = 1, #s
  local function ws()
    while i <= n do
      local c = string.byte(s, i)
      if c == 32 or c == 9 or c == 10 or c == 13 then i = i + 1 else return end
    end
  end
  -- str_end returns the index of the quote that closes the string opening
  -- at j. string.find skips plain text in C, not a byte at a time in Lua.
  local function str_end(j)
    j = j + 1
    while true do
      local q = string.find(s, '["\\]', j)
      if q == nil then error('json: unterminated string') end
      if string.byte(s, q) == 34 then return q end
      j = q + 2
    end
  end
  local function value_end(j)
    local c = string.byte(s, j)
    if c == 34 then return str_end(j) end
    if c == 123 or c == 91 then
      local depth = 0
      while true do
        j = string.find(s, '[{}%[%]"]', j)
        if j == nil then error('json: unterminated value') end
        c = string.byte(s, j)
        if c == 34 then j = str_end(j)
        elseif c == 123 or c == 91 then depth = depth + 1
        else
          depth = depth - 1
          if depth == 0 then return j end
        end
        j = j + 1
      end
    end
    local e = string.find(s, '[,}%]%s]', j)
    if e == nil then return n end
    return e - 1
  end
  ws()
  if string.byte(s, i) ~= 123 then error('json: not an object') end
  i = i + 1
  ws()
  if string.byte(s, i) == 125 then return keys, vals end
  while true do
    ws()
    if string.byte(s, i) ~= 34 then error('json: expected a key') end
    local ke = str_end(i)
    local k = string.sub(s, i, ke)
    i = ke + 1
    ws()
    if string.byte(s, i) ~= 58 then error('json: expected a colon') end
    i = i + 1
    ws()
    local ve = value_end(i)
    if vals[k] == nil then keys[#keys + 1] = k end
    vals[k] = string.sub(s, i, ve)
    i = ve + 1
    ws()
    local c = string.byte(s, i)
    if c == 44 then i = i + 1
    elseif c == 125 then return keys, vals
    else error('json: expected a comma') end
  end
end

-- json_object joins raw keys and values back into an object.
local function json_object(keys, vals)
  local parts = {}
  for _, k in ipairs(keys) do
    if vals[k] ~= nil then parts[#parts + 1] = k .. ':' .. vals[k] end
  end
  return '{' .. table.concat(parts, ',') .. '}'
end

-- json_merge applies an RFC 7396 merge patch (raw text) to a target (raw
-- text, or nil) and returns the result as raw text.
local function json_merge(target, patch)
  if string.byte(patch, 1) ~= 123 then return patch end
  local tkeys, tvals = {}, {}
  if target ~= nil and string.byte(target, 1) == 123 then tkeys, tvals = json_members(target) end
  local pkeys, pvals = json_members(patch)
  for _, k in ipairs(pkeys) do
    local v = pvals[k]
    if v == 'null' then
      tvals[k] = nil
    else
      if tvals[k] == nil then tkeys[#tkeys + 1] = k end
      tvals[k] = json_merge(tvals[k], v)
    end
  end
  return json_object(tkeys, tvals)
end

-- json_unquote returns the text of a raw JSON string without escapes (ids,
-- statuses and timestamps have none).
local function json_unquote(raw)
  return string.sub(raw, 2, -2)
end

-- Workflow times are integers: nanoseconds since the Unix epoch, as decimal
-- text. Lua's numbers are exact only to 2^53, so a time is handled as its
-- seconds and its nine digits of nanoseconds; no calendar arithmetic is
-- needed. (Approval times are RFC 3339 text that Go formats, compared as
-- strings: fixed width, so text order is time order.)
local function ns_split(t)
  return tonumber(string.sub(t, 1, -10)), tonumber(string.sub(t, -9))
end

-- ns_after returns now, or the instant 1 ns after prev when now is not
-- later: stored times only ever rise, whatever the callers' clocks say.
-- prev is the stored value's raw JSON, or nil. A time stored as RFC 3339
-- text, before times were integers, is compared with now_text; when now is
-- not later than it, ns_after returns nil, and the caller asks Go to try
-- again with a later now (Go parses the text).
local function ns_after(now, prev, now_text)
  if prev == nil then return now end
  if string.sub(prev, 1, 1) == '"' then
    if now_text > string.sub(prev, 2, -2) then return now end
    return nil
  end
  local ns_s, ns_n = ns_split(now)
  local ps, pn = ns_split(prev)
  if ns_s > ps or (ns_s == ps and ns_n > pn) then return now end
  pn = pn + 1
  if pn == 1000000000 then ps, pn = ps + 1, 0 end
  return string.format('%.0f%09d', ps, pn)
end

-- ns_millis returns a time in whole milliseconds, for sorted-set scores
-- (tostring would print large numbers with an exponent).
local function ns_millis(t)
  local s, n = ns_split(t)
  return string.format('%.0f', s * 1000 + math.floor(n / 1000000))
end

-- event_id is the id of a trail's event, compact or JSON.
local function event_id(raw)
  return tonumber(string.match(raw, '^(%d+)|') or string.match(raw, '^{"id":"(%d+)"')) or 0
end

-- event_push appends an event to a trail: a list of JSON events (a list,
-- not a stream: a new stream preallocates a 4 KB node, ten times a
-- workflow's own size), capped at max. fields is the event's members as raw
-- JSON text, without its id: ids count up from 1 per trail. new says the
-- trail cannot exist yet, which saves reading its last id.
local function event_push(key, max, fields, new)
  local last = nil
  if not new then last = redis.call('LINDEX', key, -1) end
  local seq = 1
  if last then seq = event_id(last) + 1 end
  local len = redis.call('RPUSH', key, '{"id":"' .. seq .. '",' .. fields .. '}')
  if len > max then redis.call('LTRIM', key, -max, -1) end
end

-- history_event is a workflow's history event as its list keeps it: compact
-- text, "id|at|type|version|from|to|client|stage", where type is c, u or d
-- (created, updated, deleted), from and to are statuses or empty for none,
-- at is a time in nanoseconds (or a document's RFC 3339 text, quoted),
-- client the calling client's name or empty, and stage raw JSON, last, as
-- it may hold "|". Events written before clients have no client field
-- (their stage, JSON, follows "to"). A JSON event costs Redis about three
-- times the bytes. Go's History reads every form: lists written before
-- hold JSON events.
local history_types = {created = 'c', updated = 'u', deleted = 'd'}
local function history_event(id, typ, version, from, to, stage, at, client)
  return id .. '|' .. at .. '|' .. history_types[typ] .. '|' .. version .. '|' .. (from or '') .. '|' .. (to or '') .. '|' .. (client or CLIENT) .. '|' .. stage
end

-- history_push appends an event to a workflow's history, capped at max. A
-- new workflow's "created" event is not stored: its document at version 1
-- says all the event would, and a list of one event costs Redis more than
-- the document. So when the list is missing and the document, f (its
-- members before this write), is at version 1, the created event goes
-- first, made from f. Reads make it from the document the same way.
-- last is the list's last element when the caller has read it already.
local function history_push(key, max, f, typ, version, from, to, stage, at, last)
  last = last or redis.call('LINDEX', key, -1)
  local seq, events = 1, {}
  if last then
    seq = event_id(last) + 1
  elseif f and tonumber(f['"version"']) == 1 then
    local by = f['"created_by"']
    events[1] = history_event(1, 'created', 1, nil, json_unquote(f['"status"']), f['"current_stage"'], f['"created_at"'], by and json_unquote(by) or '')
    seq = 2
  end
  events[#events + 1] = history_event(seq, typ, version, from, to, stage, at)
  local len = redis.call('RPUSH', key, unpack(events))
  if len > max then redis.call('LTRIM', key, -max, -1) end
end

-- audit_push appends an event to an approval's audit trail, which keeps its
-- last 1000. actor and detail are raw JSON (null when there is none), and
-- the calling client is CLIENT (a name of [a-z0-9_.-], so JSON as it is);
-- new as for event_push.
local function audit_push(key, typ, actor, detail, at, new)
  if detail == nil or detail == '' then detail = 'null' end
  local client = 'null'
  if CLIENT ~= '' then client = '"' .. CLIENT .. '"' end
  event_push(key, 1000, '"at":"' .. at .. '","type":"' .. typ .. '","actor":' .. actor .. ',"client":' .. client .. ',"detail":' .. detail, new)
end

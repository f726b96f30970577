-- The idempotency guard, wrapped around a write script. The record key is
-- the last KEYS entry; the request's fingerprint and the record's TTL (ms)
-- the last two ARGV entries. They are taken off before the script runs, so
-- it sees its own arguments only.
--
-- A record holds the fingerprint, a newline, and the script's first reply,
-- encoded, unless that reply is {"retry", ...}. The same fingerprint gets {"replay", reply}; another gets
-- {"mismatch"}; no record runs the script, records its reply, and answers
-- {"fresh", reply}.

local idem_key = table.remove(KEYS)
local idem_ttl = table.remove(ARGV)
local idem_fp = table.remove(ARGV)

-- idem_enc encodes a reply: s<len>:<bytes>, n<len>:<digits>, t<count>:<items>,
-- b (true) or z (nil or false).
local function idem_enc(v)
  local t = type(v)
  if t == 'table' then
    local parts = {'t' .. #v .. ':'}
    for i = 1, #v do parts[#parts + 1] = idem_enc(v[i]) end
    return table.concat(parts)
  elseif t == 'string' then
    return 's' .. #v .. ':' .. v
  elseif t == 'number' then
    local s = tostring(v)
    return 'n' .. #s .. ':' .. s
  elseif v then
    return 'b'
  end
  return 'z'
end

local function idem_dec(s, i)
  local tag = string.sub(s, i, i)
  if tag == 'b' then return true, i + 1 end
  if tag == 'z' then return false, i + 1 end
  local colon = string.find(s, ':', i + 1, true)
  local n = tonumber(string.sub(s, i + 1, colon - 1))
  if tag == 't' then
    local out, j = {}, colon + 1
    for k = 1, n do out[k], j = idem_dec(s, j) end
    return out, j
  end
  local v = string.sub(s, colon + 1, colon + n)
  if tag == 'n' then v = tonumber(v) end
  return v, colon + n + 1
end

local rec = redis.call('GET', idem_key)
if rec then
  local nl = string.find(rec, '\n', 1, true)
  if string.sub(rec, 1, nl - 1) ~= idem_fp then return {'mismatch'} end
  return {'replay', (idem_dec(rec, nl + 1))}
end

local idem_reply = (function()
--SCRIPT--
end)()
-- A script that answers {"retry", ...} wrote nothing and asks to be run
-- again with other arguments: that is not an answer to record.
if type(idem_reply) == 'table' and idem_reply[1] == 'retry' then return {'fresh', idem_reply} end
redis.call('SET', idem_key, idem_fp .. '\n' .. idem_enc(idem_reply), 'PX', idem_ttl)
return {'fresh', idem_reply}

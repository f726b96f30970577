-- Deletes a workflow, and adds the delete to its history, which keeps its
-- TTL and so outlives the state until that runs out.
--
-- KEYS: 1 state, 2 history, 3 index of all, 4.. one index per status.
-- ARGV (named_args): id, now (nanoseconds since the epoch), now_text (as
--       RFC 3339), statuses ("pending,in_progress,..."), max_history,
--       client (the calling client's name, or "").
-- Returns {"ok"}, {"err", "not_found"} or {"retry", last_updated} (as the
-- write script does).

local A = named_args()
CLIENT = A.client or ''
local cur = redis.call('GET', KEYS[1])
if not cur then return {'err', 'not_found'} end
local _, f = json_members(cur)
local status = json_unquote(f['"status"'])
local at = ns_after(A.now, f['"last_updated"'], A.now_text)
if not at then return {'retry', json_unquote(f['"last_updated"'])} end
local ttl_ms = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], A.id)
local i = 4
for s in string.gmatch(A.statuses, '[^,]+') do
  if s == status then redis.call('ZREM', KEYS[i], A.id) end
  i = i + 1
end
history_push(KEYS[2], tonumber(A.max_history), f, 'deleted', f['"version"'], status, nil, f['"current_stage"'], at)
if redis.call('PTTL', KEYS[2]) < 0 and ttl_ms > 0 then
  redis.call('PEXPIRE', KEYS[2], ttl_ms)
end
return {'ok'}

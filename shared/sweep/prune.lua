-- Removes index entries whose document is gone.
-- KEYS: 1 the index, then the document key of each member.
-- ARGV: the members, in the order of their keys.
-- Returns the number removed.
local removed = 0
for i, m in ipairs(ARGV) do
  if redis.call('EXISTS', KEYS[i + 1]) == 0 then
    removed = removed + redis.call('ZREM', KEYS[1], m)
  end
end
return removed

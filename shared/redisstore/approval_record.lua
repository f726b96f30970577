-- Records webhook attempts in the audit trail, and takes the delivery out of
-- the outbox, or moves its next attempt on.
--
-- KEYS: 1 audit, 2 outbox.
-- ARGV: 1 outbox member, 2 "1" (delivered), "0" (try again at ARGV[3]) or
--       "giveup" (take it out undelivered), 3 next attempt ms,
--       4 number of attempts, then per attempt: type, at, detail (JSON).
-- Returns the number of audit events written.

local written = 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  for i = 0, tonumber(ARGV[4]) - 1 do
    local base = 5 + i * 3
    audit_push(KEYS[1], ARGV[base], 'null', ARGV[base + 2], ARGV[base + 1])
    written = written + 1
  end
end
if ARGV[2] == '1' or ARGV[2] == 'giveup' then
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[2], 'XX', ARGV[3], ARGV[1])
end
return written

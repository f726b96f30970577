-- Records webhook attempts in the audit trail, and takes the delivery out of
-- the outbox, or moves its next attempt on.
--
-- KEYS: 1 audit, 2 outbox.
-- ARGV (named_args): member (the outbox entry), outcome ("1": delivered,
--       "0": try again at retry_ms, "giveup": take it out undelivered),
--       retry_ms, attempts (how many), and per attempt i: type.i, at.i and
--       detail.i (JSON).
-- Returns the number of audit events written.

local A = named_args()
local written = 0
if redis.call('EXISTS', KEYS[1]) == 1 then
  for i = 1, tonumber(A.attempts) do
    audit_push(KEYS[1], A['type.' .. i], 'null', A['detail.' .. i], A['at.' .. i])
    written = written + 1
  end
end
if A.outcome == '1' or A.outcome == 'giveup' then
  redis.call('ZREM', KEYS[2], A.member)
else
  redis.call('ZADD', KEYS[2], 'XX', A.retry_ms, A.member)
end
return written

-- Creates an approval: the document, its audit trail, and its entries in the
-- pending index (by expires_at), the workflow's index and the index of all
-- (by created_at).
--
-- KEYS: 1 workflow state, 2 approval, 3 audit, 4 pending index,
--       5 workflow's approvals, 6 all approvals.
-- ARGV: 1 document, 2 approval id, 3 ttl ms, 4 expires ms, 5 created ms,
--       6 requester (JSON string), 7 audit detail (JSON), 8 created_at.
-- Returns {"ok", doc} or {"no_workflow"}.

if redis.call('EXISTS', KEYS[1]) == 0 then return {'no_workflow'} end

local id = ARGV[2]
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
audit_push(KEYS[3], 'created', ARGV[6], ARGV[7], ARGV[8], true) -- a new id: a new trail
redis.call('PEXPIRE', KEYS[3], ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[4], id)
redis.call('ZADD', KEYS[5], ARGV[5], id)
redis.call('ZADD', KEYS[6], ARGV[5], id)
return {'ok', ARGV[1]}

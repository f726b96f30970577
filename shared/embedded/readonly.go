package embedded

import (
	"strings"

	"github.com/ai-rails/state-service/shared/upstash/restserver"
)

// reads are the commands that change nothing, so the journal skips them.
// Anything else is journaled: a read journaled by mistake costs a record,
// a write missed would be lost.
var reads = map[string]bool{}

func init() {
	for _, c := range strings.Fields(`
		PING ECHO TIME DBSIZE INFO LASTSAVE COMMAND MEMORY
		GET MGET GETRANGE SUBSTR STRLEN GETBIT BITCOUNT BITPOS LCS
		EXISTS TYPE TTL PTTL EXPIRETIME PEXPIRETIME KEYS SCAN RANDOMKEY DUMP OBJECT
		HGET HMGET HGETALL HKEYS HVALS HLEN HEXISTS HSTRLEN HSCAN HRANDFIELD HTTL HPTTL
		LRANGE LLEN LINDEX LPOS
		SMEMBERS SCARD SISMEMBER SMISMEMBER SSCAN SRANDMEMBER SINTER SUNION SDIFF SINTERCARD
		ZRANGE ZRANGEBYSCORE ZREVRANGE ZREVRANGEBYSCORE ZRANGEBYLEX ZREVRANGEBYLEX
		ZSCORE ZMSCORE ZCARD ZCOUNT ZLEXCOUNT ZRANK ZREVRANK ZSCAN ZRANDMEMBER ZINTER ZUNION ZDIFF ZINTERCARD
		XRANGE XREVRANGE XLEN XINFO XPENDING XREAD
		GEOPOS GEODIST GEOHASH GEOSEARCH GEORADIUS_RO GEORADIUSBYMEMBER_RO
		PFCOUNT EVAL_RO EVALSHA_RO FCALL_RO PUBSUB`) {
		reads[c] = true
	}
}

// readOnly reports whether every command of u only reads.
func readOnly(u restserver.Unit) bool {
	for _, cmd := range u.Cmds {
		if len(cmd) == 0 || !reads[strings.ToUpper(cmd[0])] {
			return false
		}
	}
	return true
}

package redistest

import (
	"bufio"
	"context"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// CommandCalls is the number of commands Redis has run, from INFO
// commandstats, leaving out INFO itself (which only the benchmarks send).
// Commands that scripts run are counted too, as Upstash bills them.
func CommandCalls(ctx context.Context, rdb *redis.Client) (int64, error) {
	raw, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, err
	}
	var total int64
	sc := bufio.NewScanner(strings.NewReader(raw))
	for sc.Scan() {
		// cmdstat_get:calls=12,usec=...
		name, rest, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "cmdstat_"), ":")
		if !ok || !strings.HasPrefix(sc.Text(), "cmdstat_") || name == "info" {
			continue
		}
		for _, f := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(f, "calls="); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return 0, err
				}
				total += n
			}
		}
	}
	return total, sc.Err()
}

// InfoField reads one field of an INFO section.
func InfoField(ctx context.Context, rdb *redis.Client, section, field string) (string, error) {
	raw, err := rdb.Info(ctx, section).Result()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(raw, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v, nil
		}
	}
	return "", nil
}

// UsedMemory is INFO memory's used_memory, after Redis has settled.
func UsedMemory(ctx context.Context, rdb *redis.Client) (int64, error) {
	v, err := InfoField(ctx, rdb, "memory", "used_memory")
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}

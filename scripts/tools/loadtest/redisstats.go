package main

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// commandCalls is the number of commands Redis has run, from INFO
// commandstats, leaving out INFO itself (which only the load test sends).
// Commands that scripts run are counted too, as Upstash bills them.
func commandCalls(ctx context.Context, rdb *redis.Client) (int64, error) {
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

// infoField reads one field of an INFO section.
func infoField(ctx context.Context, rdb *redis.Client, section, field string) (string, error) {
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

// usedMemory is INFO memory's used_memory, after Redis has settled.
func usedMemory(ctx context.Context, rdb *redis.Client) (int64, error) {
	v, err := infoField(ctx, rdb, "memory", "used_memory")
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}

// baseline is the ceiling: go-redis SET and GET, half each, from clients
// goroutines straight to Redis, with nothing of ours in between.
func baseline(ctx context.Context, url string, clients int, d time.Duration) (float64, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return 0, err
	}
	opt.PoolSize = clients
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	value := strings.Repeat("v", 300) // about a workflow's size
	var wg sync.WaitGroup
	counts := make([]int64, clients)
	errs := make([]error, clients)
	start := time.Now()
	end := start.Add(d)
	for c := range clients {
		wg.Go(func() {
			key := "bench_baseline_" + strconv.Itoa(c)
			for i := 0; time.Now().Before(end); i++ {
				var err error
				if i%2 == 0 {
					err = rdb.Set(ctx, key, value, time.Minute).Err()
				} else {
					err = rdb.Get(ctx, key).Err()
				}
				if err != nil {
					errs[c] = err
					return
				}
				counts[c]++
			}
		})
	}
	wg.Wait()
	var total int64
	for c := range clients {
		if errs[c] != nil {
			return 0, errs[c]
		}
		total += counts[c]
	}
	keys := make([]string, clients)
	for c := range keys {
		keys[c] = "bench_baseline_" + strconv.Itoa(c)
	}
	_ = rdb.Del(ctx, keys...).Err()
	return float64(total) / time.Since(start).Seconds(), nil
}

// redisCPU is the CPU time Redis has used, user and system, in seconds.
func redisCPU(ctx context.Context, rdb *redis.Client) (float64, error) {
	var total float64
	for _, f := range []string{"used_cpu_user", "used_cpu_sys"} {
		v, err := infoField(ctx, rdb, "cpu", f)
		if err != nil {
			return 0, err
		}
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0, fmt.Errorf("INFO cpu %s: %w", f, err)
		}
		total += x
	}
	return total, nil
}

// selfCPU is the CPU time this process has used, in seconds: the stack and
// the load generator together.
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

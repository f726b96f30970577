package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ai-rails/state-service/shared/redistest"
	"github.com/redis/go-redis/v9"
)

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
		v, err := redistest.InfoField(ctx, rdb, "cpu", f)
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

package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
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

// redisBenchmarkKey is the one key redis-benchmark's SET and GET use when
// it is not given -r.
const redisBenchmarkKey = "key:__rand_int__"

// redisBenchmark is Redis's own ceiling, measured by its own tool:
// redis-benchmark -c clients -n n -t set,get, ops/s by command. On a
// REDIS_URL given, it declines to run over a key of that name already there,
// and removes the one it writes.
func redisBenchmark(ctx context.Context, rdb *redis.Client, opt *redis.Options, clients, n int) (map[string]float64, error) {
	bin, err := exec.LookPath("redis-benchmark")
	if err != nil {
		return nil, fmt.Errorf("redis-benchmark is not installed (apt-get install redis-tools): %w", err)
	}
	if k, err := rdb.Exists(ctx, redisBenchmarkKey).Result(); err != nil || k > 0 {
		return nil, fmt.Errorf("the Redis holds %q already, which redis-benchmark would overwrite (%v)", redisBenchmarkKey, err)
	}
	defer rdb.Del(context.Background(), redisBenchmarkKey)
	host, port, err := net.SplitHostPort(opt.Addr)
	if err != nil {
		return nil, err
	}
	args := []string{"-h", host, "-p", port, "--dbnum", strconv.Itoa(opt.DB), "-c", strconv.Itoa(clients),
		"-n", strconv.Itoa(n), "-d", "300", "-t", "set,get", "--csv"}
	shown := strings.Join(args, " ")
	if opt.Username != "" {
		args = append(args, "--user", opt.Username)
	}
	if opt.Password != "" {
		args = append(args, "-a", opt.Password)
	}
	out, err := exec.CommandContext(ctx, bin, args...).Output()
	if err != nil {
		return nil, fmt.Errorf("redis-benchmark %s: %w", shown, err) // without the password
	}
	return parseRedisBenchmarkCSV(out)
}

// parseRedisBenchmarkCSV reads redis-benchmark --csv: a header row, then
// "SET","86956.52",... per test.
func parseRedisBenchmarkCSV(raw []byte) (map[string]float64, error) {
	rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("redis-benchmark output: %w", err)
	}
	out := map[string]float64{}
	for _, r := range rows {
		if len(r) < 2 || r[0] == "test" {
			continue
		}
		v, err := strconv.ParseFloat(r[1], 64)
		if err != nil {
			return nil, fmt.Errorf("redis-benchmark output: %s: %w", r[0], err)
		}
		out[r[0]] = v
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("redis-benchmark output has no figures: %q", raw)
	}
	return out, nil
}

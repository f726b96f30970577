package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ai-rails/state-service/shared/config"
)

// settings are the load test's, read from the environment.
type settings struct {
	Duration         time.Duration // BENCH_DURATION: each load phase
	BaselineDuration time.Duration // BENCH_BASELINE_DURATION: the go-redis ceiling
	Out              string        // BENCH_OUT: the JSON figures
	RedisURL         string        // REDIS_URL: a Redis to use instead of starting one
	Clients          int           // BENCH_CLIENTS: the throughput phase
	LatencyClients   int           // BENCH_LATENCY_CLIENTS: the latency phase
	MemoryWorkflows  int           // BENCH_MEMORY_WORKFLOWS: workflows for the bytes figure
	BackupKeys       int           // BENCH_BACKUP_KEYS: keys for the backup figure
	ColdStarts       int           // BENCH_COLD_STARTS: emulator starts per function
	RouteCalls       int           // BENCH_ROUTE_CALLS: calls per route for the per-route costs
	// RedisBenchmarkRequests is redis-benchmark's -n (BENCH_REDIS_REQUESTS).
	RedisBenchmarkRequests int
	// Quick (BENCH_QUICK=1) scales every default down, for a run of at
	// most 30 s; settings given still win.
	Quick      bool
	Skip       map[string]bool
	CPUProfile string // BENCH_CPUPROFILE: a CPU profile of the throughput phase
	MemProfile string // BENCH_MEMPROFILE: an allocation profile after it
	LogLevel   string // LOG_LEVEL of the stack, default warn
	Root       string // the repository, found from the working folder
}

// parts are the steps that BENCH_SKIP may name.
var parts = []string{"memory", "throughput", "latency", "baseline", "routes", "backup", "coldstart"}

func readSettings(lookup func(string) (string, bool)) (settings, error) {
	e := config.NewEnv(lookup)
	quick := e.Bool("BENCH_QUICK", false)
	// pick is the full run's default, or the quick run's.
	pick := func(full, fast int) int {
		if quick {
			return fast
		}
		return full
	}
	s := settings{
		Quick:                  quick,
		Duration:               e.Duration("BENCH_DURATION", time.Duration(pick(15, 2))*time.Second),
		BaselineDuration:       e.Duration("BENCH_BASELINE_DURATION", time.Duration(pick(3, 1))*time.Second),
		Out:                    e.String("BENCH_OUT", "bench/results.json"),
		RedisURL:               e.String("REDIS_URL", ""),
		Clients:                e.Int("BENCH_CLIENTS", 64, 1, 4096),
		LatencyClients:         e.Int("BENCH_LATENCY_CLIENTS", 16, 1, 4096),
		MemoryWorkflows:        e.Int("BENCH_MEMORY_WORKFLOWS", pick(10000, 1000), 1, 1000000),
		BackupKeys:             e.Int("BENCH_BACKUP_KEYS", pick(100000, 10000), 1, 10000000),
		ColdStarts:             e.Int("BENCH_COLD_STARTS", pick(3, 1), 1, 100),
		RouteCalls:             e.Int("BENCH_ROUTE_CALLS", pick(2000, 400), 8, 1000000),
		RedisBenchmarkRequests: e.Int("BENCH_REDIS_REQUESTS", pick(300000, 50000), 1000, 100000000),
		CPUProfile:             e.String("BENCH_CPUPROFILE", ""),
		MemProfile:             e.String("BENCH_MEMPROFILE", ""),
		LogLevel:               e.String("LOG_LEVEL", "warn"),
		Skip:                   map[string]bool{},
	}
	for _, p := range strings.Split(e.String("BENCH_SKIP", ""), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		known := false
		for _, k := range parts {
			known = known || k == p
		}
		if !known {
			e.Fail(fmt.Errorf("BENCH_SKIP: %q is not one of %s", p, strings.Join(parts, ", ")))
		}
		s.Skip[p] = true
	}
	if err := e.Err(); err != nil {
		return settings{}, err
	}
	root, err := repoRoot()
	if err != nil {
		return settings{}, err
	}
	s.Root = root
	return s, nil
}

// repoRoot is the nearest folder up from the working one that holds go.work.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", errors.New("run the load test inside the repository (no go.work found above the working folder)")
		}
		dir = up
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/redistest"
)

// TestLoadTestRuns runs every step of make bench at a tiny scale and checks
// what it reports: the fields the JSON promises, no errors, and the store
// costs that are properties of the code rather than of the machine (one
// Upstash request per API call). No timing is asserted.
func TestLoadTestRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the functions")
	}
	rs := redistest.Start(t) // fails under CI when redis-server is missing
	if _, err := exec.LookPath("redis-benchmark"); err != nil {
		if redistest.Required() {
			t.Fatalf("redis-benchmark is not installed, and CI=true requires it: %v", err)
		}
		t.Skipf("redis-benchmark is not installed (apt-get install redis-tools; CI=true makes this a failure): %v", err)
	}
	out := filepath.Join(t.TempDir(), "results.json")
	s, err := readSettings(config.MapLookup(map[string]string{
		"BENCH_DURATION": "300ms", "BENCH_BASELINE_DURATION": "200ms", "BENCH_OUT": out,
		"BENCH_CLIENTS": "8", "BENCH_LATENCY_CLIENTS": "4", "BENCH_MEMORY_WORKFLOWS": "200",
		"BENCH_BACKUP_KEYS": "2000", "BENCH_COLD_STARTS": "1", "BENCH_ROUTE_CALLS": "40", "BENCH_REDIS_REQUESTS": "2000", "REDIS_URL": rs.URL(),
	}))
	require.NoError(t, err)
	var table bytes.Buffer
	require.NoError(t, run(context.Background(), s, &table))

	raw, err := os.ReadFile(out)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(raw, &got))
	for _, f := range []string{"api_ops_per_sec", "p50_ms", "p95_ms", "p99_ms", "errors", "clients",
		"upstash_requests_per_api_call", "redis_commands_per_api_call", "redis_bytes_per_workflow",
		"baseline_redis_ops_per_sec", "ratio_to_baseline", "backup_100k_seconds", "backup_peak_rss_mb",
		"bootstrap_bytes", "cold_start_ms", "api_cpu_us_per_call", "bare_ops_per_sec", "bare_p99_ms", "bare_cpu_us_per_call",
		"ratios", "idempotency_bytes_per_write", "redis_benchmark_ops_per_sec", "init_trace", "bare"} {
		assert.Contains(t, got, f)
	}
	var r Results
	require.NoError(t, json.Unmarshal(raw, &r))
	assert.Zero(t, r.Errors, "%s", table.String())
	assert.Equal(t, 8, r.Clients)
	assert.Equal(t, 1.0, r.UpstashRequestsPerCall, "exactly one Upstash request per API call")
	assert.Positive(t, r.APIOpsPerSec)
	assert.Positive(t, r.RedisCommandsPerCall)
	assert.Positive(t, r.RedisBytesPerWorkflow)
	assert.Positive(t, r.BaselineOpsPerSec)
	assert.Positive(t, r.RedisBenchmark["SET"])
	assert.Positive(t, r.RedisBenchmark["GET"])

	// Each process's CPU is its own, measured for the service and the bare
	// path alike, and the ratios are of those figures.
	for _, p := range []*phaseResult{r.Throughput, r.Latency, r.Bare.Throughput, r.Bare.Latency} {
		require.NotNil(t, p)
		assert.Zero(t, p.ErrorCount, "%s: %s", p.Server, p.LastError)
		for _, proc := range []string{p.Server, procREST, procRedis, procLoad} {
			assert.Contains(t, p.CPUPerCallUs, proc, p.Server)
		}
	}
	assert.Equal(t, procAPI, r.Throughput.Server)
	assert.Equal(t, procBare, r.Bare.Throughput.Server)
	assert.Equal(t, 1.0, r.Bare.Throughput.UpstashRequestsPerCall, "the bare path makes one Upstash request per call too")
	assert.Positive(t, r.APICPUPerCallUs)
	assert.Positive(t, r.BareCPUPerCallUs)
	require.NotNil(t, r.Ratios)
	assert.InDelta(t, r.APICPUPerCallUs/r.BareCPUPerCallUs, r.Ratios.APICPUPerCall, 1e-9)
	assert.InDelta(t, r.APIOpsPerSec/r.BareOpsPerSec, r.Ratios.OpsPerSec, 1e-9)
	assert.InDelta(t, r.P99/r.BareP99, r.Ratios.P99, 1e-9)
	assert.Equal(t, int64(2000), r.Backup.Keys)
	assert.Positive(t, r.BackupPeakRSSMB)
	for _, fn := range functions {
		assert.Positive(t, r.BootstrapBytes[fn], fn)
		assert.Positive(t, r.ColdStartMs[fn], fn)
		assert.Positive(t, r.InitTrace[fn].TotalMs, fn)
		assert.NotEmpty(t, r.InitTrace[fn].Top, fn)
	}
	require.Len(t, r.Routes, len(mix))
	for _, c := range r.Routes {
		assert.Equal(t, 1.0, c.UpstashRequests, c.Route)
		assert.GreaterOrEqual(t, c.RedisCommands, 1.0, c.Route)
	}
	assert.Contains(t, table.String(), "| ops/s, 8 clients |")
	assert.Contains(t, table.String(), "| API-process CPU per call (the n8n mix) |")

	// The given Redis is left as it was: the run's keys are gone.
	n, err := redisKeys(rs.URL())
	require.NoError(t, err)
	assert.Zero(t, n, "keys left behind in REDIS_URL")
}

func TestSettings(t *testing.T) {
	_, err := readSettings(config.MapLookup(map[string]string{"BENCH_SKIP": "memory,nonsense"}))
	assert.ErrorContains(t, err, `"nonsense"`)
	_, err = readSettings(config.MapLookup(map[string]string{"BENCH_CLIENTS": "0"}))
	assert.ErrorContains(t, err, "BENCH_CLIENTS")
	s, err := readSettings(config.MapLookup(nil))
	require.NoError(t, err)
	assert.Equal(t, 64, s.Clients)
	assert.Equal(t, 16, s.LatencyClients)
	assert.Equal(t, "bench/results.json", s.Out)
	assert.FileExists(t, filepath.Join(s.Root, "go.work"))
	assert.Equal(t, 15*time.Second, s.Duration)

	// BENCH_QUICK scales the defaults down; a setting given still wins.
	q, err := readSettings(config.MapLookup(map[string]string{"BENCH_QUICK": "1", "BENCH_MEMORY_WORKFLOWS": "5000"}))
	require.NoError(t, err)
	assert.True(t, q.Quick)
	assert.Less(t, q.Duration, s.Duration)
	assert.Less(t, q.BackupKeys, s.BackupKeys)
	assert.Less(t, q.RouteCalls, s.RouteCalls)
	assert.Equal(t, 5000, q.MemoryWorkflows)
	assert.Equal(t, 64, q.Clients, "the same clients, so that the figures compare")
}

// redisKeys is the number of keys in the Redis at url.
func redisKeys(url string) (int64, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return 0, err
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	return rdb.DBSize(context.Background()).Result()
}

func TestParseStatCPU(t *testing.T) {
	// A command name with spaces and parentheses; utime 250 and stime 50
	// ticks are the 14th and 15th fields.
	line := []byte("4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 0 0\n")
	got, err := parseStatCPU(line)
	require.NoError(t, err)
	assert.InDelta(t, 3.0, got, 1e-9)
	_, err = parseStatCPU([]byte("4242 no name"))
	assert.Error(t, err)

	// This process's own figure reads and grows.
	before, err := procCPU("self")
	require.NoError(t, err)
	for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end); {
	}
	after, err := procCPU("self")
	require.NoError(t, err)
	assert.Greater(t, after, before)
}

func TestParseRedisBenchmarkCSV(t *testing.T) {
	out := `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"SET","59171.60","0.570","0.160","0.527","0.639","1.215","13.207"
"GET","64516.13","0.508","0.184","0.503","0.631","0.703","3.919"
`
	got, err := parseRedisBenchmarkCSV([]byte(out))
	require.NoError(t, err)
	assert.Equal(t, map[string]float64{"SET": 59171.60, "GET": 64516.13}, got)
	_, err = parseRedisBenchmarkCSV([]byte("Could not connect to Redis\n"))
	assert.Error(t, err)
}

func TestParseInitTrace(t *testing.T) {
	out := `init internal/bytealg @0.007 ms, 0.003 ms clock, 0 bytes, 0 allocs
init github.com/ai-rails/state-service/shared/redisstore @4.2 ms, 4.9 ms clock, 573808 bytes, 174 allocs
init net/http @3.9 ms, 0.059 ms clock, 4712 bytes, 49 allocs
init: configuration: UPSTASH_REDIS_REST_URL is required
`
	got, err := parseInitTrace([]byte(out), 2)
	require.NoError(t, err)
	assert.InDelta(t, 4.962, got.TotalMs, 1e-9)
	assert.Equal(t, []packageInit{{"github.com/ai-rails/state-service/shared/redisstore", 4.9}, {"net/http", 0.059}}, got.Top)
	_, err = parseInitTrace([]byte("panic: boom\n"), 5)
	assert.Error(t, err)
}

// Slices of a phase add up: counts and time summed, percentiles over every
// call's latency.
func TestPhaseSlicesAdd(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	a := phaseResult{Seconds: 1, Total: 2, Calls: map[string]int64{"workflow_get": 2}, Errors: map[string]int64{}, lat: ms(1, 2)}
	a.figures()
	a.add(phaseResult{Seconds: 1, Total: 2, ErrorCount: 1, Calls: map[string]int64{"workflow_get": 1, "results_post": 1},
		Errors: map[string]int64{"results_post": 1}, LastError: "boom", lat: ms(100, 3)})
	assert.Equal(t, int64(4), a.Total)
	assert.Equal(t, 2.0, a.OpsPerSec)
	assert.Equal(t, map[string]int64{"workflow_get": 3, "results_post": 1}, a.Calls)
	assert.Equal(t, int64(1), a.ErrorCount)
	assert.Equal(t, "boom", a.LastError)
	assert.Equal(t, 2.0, a.P50)
	assert.Equal(t, 100.0, a.P99)
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

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
	out := filepath.Join(t.TempDir(), "results.json")
	s, err := readSettings(config.MapLookup(map[string]string{
		"BENCH_DURATION": "300ms", "BENCH_BASELINE_DURATION": "200ms", "BENCH_OUT": out,
		"BENCH_CLIENTS": "8", "BENCH_LATENCY_CLIENTS": "4", "BENCH_MEMORY_WORKFLOWS": "200",
		"BENCH_BACKUP_KEYS": "2000", "BENCH_COLD_STARTS": "1", "REDIS_URL": rs.URL(),
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
		"bootstrap_bytes", "cold_start_ms"} {
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
	assert.Equal(t, int64(2000), r.Backup.Keys)
	assert.Positive(t, r.BackupPeakRSSMB)
	for _, fn := range functions {
		assert.Positive(t, r.BootstrapBytes[fn], fn)
		assert.Positive(t, r.ColdStartMs[fn], fn)
	}
	require.Len(t, r.Routes, len(mix))
	for _, c := range r.Routes {
		assert.Equal(t, 1.0, c.UpstashRequests, c.Route)
		assert.GreaterOrEqual(t, c.RedisCommands, 1.0, c.Route)
	}
	assert.Contains(t, table.String(), "| API ops/s, 8 clients |")

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

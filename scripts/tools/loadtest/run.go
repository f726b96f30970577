package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ai-rails/state-service/functions/localstack"
	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/observe"
	"github.com/ai-rails/state-service/shared/redistest"
)

// Results are the figures that BENCH_OUT receives. The top-level fields are
// the headline ones; the phases hold the detail.
type Results struct {
	RunAt   time.Time `json:"run_at"`
	Machine string    `json:"machine"`
	Redis   string    `json:"redis"`

	APIOpsPerSec float64 `json:"api_ops_per_sec"` // the throughput phase
	P50          float64 `json:"p50_ms"`          // the latency phase
	P95          float64 `json:"p95_ms"`
	P99          float64 `json:"p99_ms"`
	Errors       int64   `json:"errors"` // both phases
	Clients      int     `json:"clients"`

	UpstashRequestsPerCall float64 `json:"upstash_requests_per_api_call"`
	RedisCommandsPerCall   float64 `json:"redis_commands_per_api_call"`
	RedisBytesPerWorkflow  float64 `json:"redis_bytes_per_workflow"`

	BaselineOpsPerSec float64 `json:"baseline_redis_ops_per_sec"`
	RatioToBaseline   float64 `json:"ratio_to_baseline"`

	Backup100kSeconds float64 `json:"backup_100k_seconds"`
	BackupPeakRSSMB   float64 `json:"backup_peak_rss_mb"`

	BootstrapBytes map[string]int64   `json:"bootstrap_bytes"`
	ColdStartMs    map[string]float64 `json:"cold_start_ms"`

	Throughput *phaseResult   `json:"throughput,omitempty"`
	Latency    *phaseResult   `json:"latency,omitempty"`
	Routes     []routeCost    `json:"routes,omitempty"`
	Backup     *backupResult  `json:"backup,omitempty"`
	Memory     *memoryResult  `json:"memory,omitempty"`
	Settings   map[string]any `json:"settings"`
}

type memoryResult struct {
	Workflows  int   `json:"workflows"`
	BytesDelta int64 `json:"used_memory_delta"`
}

// routeCost is what one call of a route costs the store.
type routeCost struct {
	Op              string  `json:"op"`
	Route           string  `json:"route"`
	Calls           int     `json:"calls"`
	UpstashRequests float64 `json:"upstash_requests_per_call"`
	RedisCommands   float64 `json:"redis_commands_per_call"`
	RedisCPUUs      float64 `json:"redis_cpu_us_per_call"`
}

var routes = map[string]string{
	"workflow_get":    "GET /api/workflow/state/{id}",
	"workflow_patch":  "PATCH /api/workflow/state/{id}",
	"workflow_create": "POST /api/workflow/state (new)",
	"approval_create": "POST /api/approval",
	"approval_get":    "GET /api/approval/{id}",
	"approval_decide": "POST /api/approval/{id}/decision",
	"results_post":    "POST /api/results",
}

func run(ctx context.Context, s settings, out io.Writer) error {
	tmp, err := os.MkdirTemp("", "ai-rails-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// The Redis: the one given, or our own.
	redisURL, prefix := s.RedisURL, ""
	if redisURL == "" {
		bin, err := exec.LookPath("redis-server")
		if err != nil {
			return fmt.Errorf("redis-server is not installed (or set REDIS_URL): %w", err)
		}
		srv, err := redistest.Launch(bin, tmp, redistest.NoPersistence...)
		if err != nil {
			return err
		}
		defer srv.Stop()
		redisURL = srv.URL()
	} else {
		prefix = "bench" + randomHex(3) + "_" // keep clear of the data already there
	}
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	version, err := redistest.InfoField(ctx, rdb, "server", "redis_version")
	if err != nil {
		return fmt.Errorf("reach Redis: %w", err)
	}

	// The stack, in this process.
	cfg, err := localstack.ReadConfig(config.MapLookup(map[string]string{
		"LOCAL_ADDR": "127.0.0.1:0", "LOCAL_REST_ADDR": "127.0.0.1:0", "LOCAL_VECTOR_ADDR": "127.0.0.1:0", "DATA_DIR": tmp, "REDIS_URL": redisURL,
		"KEY_PREFIX": prefix, "SWEEP_INTERVAL": "24h", "BACKUP_INTERVAL": "24h",
	}))
	if err != nil {
		return err
	}
	logger, err := observe.NewLogger(os.Stderr, s.LogLevel)
	if err != nil {
		return err
	}
	stack, err := localstack.Start(ctx, cfg, io.Discard, logger)
	if err != nil {
		return err
	}
	defer func() {
		_ = stack.Shutdown(context.Background()) // which flushes the last metrics
		if s.RedisURL != "" {
			_ = dropPrefix(context.Background(), rdb, prefix)
		}
	}()
	api := newAPIClient(stack.APIURL, cfg.APIKey, max(s.Clients, s.LatencyClients))

	res := Results{
		RunAt:   time.Now().UTC(),
		Machine: fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version()),
		Redis:   version, Clients: s.Clients,
		BootstrapBytes: map[string]int64{}, ColdStartMs: map[string]float64{},
		Settings: map[string]any{"duration_s": s.Duration.Seconds(), "latency_clients": s.LatencyClients, "log_level": s.LogLevel,
			"memory_workflows": s.MemoryWorkflows, "backup_keys": s.BackupKeys, "redis_given": s.RedisURL != ""},
	}
	step := func(name string) bool {
		if s.Skip[name] {
			return false
		}
		fmt.Fprintf(os.Stderr, "bench: %s\n", name)
		return true
	}

	if step("memory") {
		m, err := measureMemory(ctx, rdb, api, s.MemoryWorkflows)
		if err != nil {
			return fmt.Errorf("memory: %w", err)
		}
		res.Memory = &m
		res.RedisBytesPerWorkflow = float64(m.BytesDelta) / float64(m.Workflows)
	}

	w, err := seed(api)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	measure := func(prefix string, clients int, profile string) (*phaseResult, error) {
		w.prefix = prefix
		w.created.Store(0)
		before, err := snap(ctx, stack, rdb)
		if err != nil {
			return nil, err
		}
		stopProfile, err := startCPUProfile(profile)
		if err != nil {
			return nil, err
		}
		r := w.phase(clients, s.Duration)
		stopProfile()
		used, err := before.since(ctx, stack, rdb)
		if err != nil {
			return nil, err
		}
		n := float64(r.Total)
		r.RedisCPUPerCallUs = used.redisCPU * 1e6 / n
		r.ProcessCPUPerCallUs = used.selfCPU * 1e6 / n
		r.UpstashRequestsPerCall = float64(used.rest) / n
		r.RedisCommandsPerCall = float64(used.commands) / n
		return &r, nil
	}
	if step("throughput") {
		if res.Throughput, err = measure("NWA", s.Clients, s.CPUProfile); err != nil {
			return err
		}
		if err := writeHeapProfile(s.MemProfile); err != nil {
			return err
		}
		res.APIOpsPerSec = res.Throughput.OpsPerSec
		res.Errors += res.Throughput.ErrorCount
		res.UpstashRequestsPerCall = res.Throughput.UpstashRequestsPerCall
		res.RedisCommandsPerCall = res.Throughput.RedisCommandsPerCall
	}
	if step("latency") {
		if res.Latency, err = measure("NWB", s.LatencyClients, ""); err != nil {
			return err
		}
		res.P50, res.P95, res.P99 = res.Latency.P50, res.Latency.P95, res.Latency.P99
		res.Errors += res.Latency.ErrorCount
	}
	if step("baseline") {
		if res.BaselineOpsPerSec, err = baseline(ctx, redisURL, s.Clients, s.BaselineDuration); err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		if res.APIOpsPerSec > 0 {
			res.RatioToBaseline = res.APIOpsPerSec / res.BaselineOpsPerSec
		}
	}
	if step("routes") {
		if res.Routes, err = measureRoutes(ctx, w, stack, rdb); err != nil {
			return fmt.Errorf("routes: %w", err)
		}
	}

	var bins map[string]string
	var rie string
	if !s.Skip["backup"] || !s.Skip["coldstart"] {
		fmt.Fprintln(os.Stderr, "bench: building the functions")
		if bins, rie, err = buildFunctions(ctx, s.Root, filepath.Join(tmp, "bin")); err != nil {
			return err
		}
		for fn, b := range bins {
			if fi, err := os.Stat(b); err == nil {
				res.BootstrapBytes[fn] = fi.Size()
			}
		}
	}
	if step("backup") {
		if err := seedBackup(ctx, rdb, s.BackupKeys); err != nil {
			return fmt.Errorf("backup seed: %w", err)
		}
		b, err := runBackup(ctx, bins["sweeper"], stack.RESTURL, cfg.RESTToken, filepath.Join(tmp, "backups"))
		if err != nil {
			return err
		}
		if b.Keys != int64(s.BackupKeys) {
			return fmt.Errorf("the backup holds %d keys, want %d", b.Keys, s.BackupKeys)
		}
		res.Backup = &b
		res.Backup100kSeconds = b.Seconds * 100000 / float64(s.BackupKeys)
		res.BackupPeakRSSMB = b.PeakRSSMB
		if err := dropPrefix(ctx, rdb, backupPrefix); err != nil {
			return err
		}
	}
	if step("coldstart") {
		event, err := os.ReadFile(filepath.Join(s.Root, "events", "health.json"))
		if err != nil {
			return err
		}
		sweepEvent, err := os.ReadFile(filepath.Join(s.Root, "events", "sweeper", "sweep.json"))
		if err != nil {
			return err
		}
		env := []string{"UPSTASH_REDIS_REST_URL=" + stack.RESTURL, "UPSTASH_REDIS_REST_TOKEN=" + cfg.RESTToken,
			"KEY_PREFIX=" + prefix, "API_KEY=sample-api-key", "WEBHOOK_SECRET=bench", "AWS_LAMBDA_FUNCTION_TIMEOUT=10"} // no LOG_LEVEL: the emulator would take it, and hide its INIT REPORT
		for _, fn := range functions {
			ev := event
			if fn == "sweeper" {
				ev = sweepEvent
			}
			if res.ColdStartMs[fn], err = coldStart(rie, bins[fn], env, ev, s.ColdStarts); err != nil {
				return fmt.Errorf("cold start of %s: %w", fn, err)
			}
		}
	}

	if err := writeJSON(s.Out, res); err != nil {
		return err
	}
	printTable(out, res, s)
	fmt.Fprintf(out, "\nwrote %s\n", s.Out)
	return nil
}

// measureMemory creates n workflows through the API, each with its history
// and index entries, and returns what they added to used_memory.
func measureMemory(ctx context.Context, rdb *redis.Client, api *apiClient, n int) (memoryResult, error) {
	before, err := redistest.UsedMemory(ctx, rdb)
	if err != nil {
		return memoryResult{}, err
	}
	err = parallel(n, 16, func(i int) error {
		_, err := api.must("POST", "/api/workflow/state", fmt.Appendf(nil,
			`{"workflow_id":"MEM-%06d","feature_description":"Add login to the admin panel","current_stage":"write_tests","metadata":{"pr":%d,"repo":"ai-rails/demo"}}`, i, i), http.StatusCreated)
		return err
	})
	if err != nil {
		return memoryResult{}, err
	}
	after, err := redistest.UsedMemory(ctx, rdb)
	if err != nil {
		return memoryResult{}, err
	}
	return memoryResult{Workflows: n, BytesDelta: after - before}, nil
}

// measureRoutes calls each route of the mix on its own and divides what the
// store counted by the calls.
func measureRoutes(ctx context.Context, w *workload, stack *localstack.Stack, rdb *redis.Client) ([]routeCost, error) {
	const calls = 500
	w.prefix = "RTE"
	w.created.Store(0)
	wk := &worker{rng: newRand(), calls: map[string]int64{}, errs: map[string]int64{}}
	var out []routeCost
	for _, op := range ops() {
		before, err := snap(ctx, stack, rdb)
		if err != nil {
			return nil, err
		}
		for range calls {
			if !w.step(wk, op) {
				return nil, fmt.Errorf("%s", wk.last)
			}
		}
		used, err := before.since(ctx, stack, rdb)
		if err != nil {
			return nil, err
		}
		out = append(out, routeCost{Op: op, Route: routes[op], Calls: calls, RedisCPUUs: used.redisCPU * 1e6 / calls,
			UpstashRequests: float64(used.rest) / calls, RedisCommands: float64(used.commands) / calls})
	}
	return out, nil
}

// usage is what the store side has counted: REST requests, Redis commands,
// and CPU seconds of redis-server and of this process.
type usage struct {
	rest, commands    int64
	redisCPU, selfCPU float64
}

func snap(ctx context.Context, stack *localstack.Stack, rdb *redis.Client) (usage, error) {
	u := usage{rest: stack.RESTRequests(), selfCPU: selfCPU()}
	var err error
	if u.commands, err = redistest.CommandCalls(ctx, rdb); err != nil {
		return u, err
	}
	u.redisCPU, err = redisCPU(ctx, rdb)
	return u, err
}

// since is what was used from u to now.
func (u usage) since(ctx context.Context, stack *localstack.Stack, rdb *redis.Client) (usage, error) {
	now, err := snap(ctx, stack, rdb)
	return usage{rest: now.rest - u.rest, commands: now.commands - u.commands,
		redisCPU: now.redisCPU - u.redisCPU, selfCPU: now.selfCPU - u.selfCPU}, err
}

func startCPUProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func writeHeapProfile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("allocs").WriteTo(f, 0)
}

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

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
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ai-rails/state-service/shared/lambdatest"
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
	Errors       int64   `json:"errors"` // the service's phases
	Clients      int     `json:"clients"`

	// APICPUPerCallUs is the API process's CPU per call over the
	// throughput phase (the n8n mix): what Lambda would bill.
	APICPUPerCallUs float64 `json:"api_cpu_us_per_call"`
	// The bare path's figures in the same run, and the service's against
	// them.
	BareOpsPerSec    float64 `json:"bare_ops_per_sec"`
	BareP99          float64 `json:"bare_p99_ms"`
	BareCPUPerCallUs float64 `json:"bare_cpu_us_per_call"`
	Ratios           *ratios `json:"ratios,omitempty"`

	UpstashRequestsPerCall float64 `json:"upstash_requests_per_api_call"`
	RedisCommandsPerCall   float64 `json:"redis_commands_per_api_call"`
	RedisBytesPerWorkflow  float64 `json:"redis_bytes_per_workflow"`
	// IdempotencyBytesPerWrite is what a write's Idempotency-Key record
	// adds (it lives 24 h), apart from the workflow's bytes.
	IdempotencyBytesPerWrite float64 `json:"idempotency_bytes_per_write"`
	// RedisBytesPerUpdatedWorkflow is a workflow's bytes after its first
	// update, which stores its history.
	RedisBytesPerUpdatedWorkflow float64 `json:"redis_bytes_per_updated_workflow"`

	// RedisBenchmark is Redis's own ceiling: redis-benchmark -c Clients -t
	// set,get, ops/s by command.
	RedisBenchmark    map[string]float64 `json:"redis_benchmark_ops_per_sec,omitempty"`
	BaselineOpsPerSec float64            `json:"baseline_redis_ops_per_sec"` // go-redis SET/GET from the load generator
	RatioToBaseline   float64            `json:"ratio_to_baseline"`

	Backup100kSeconds float64 `json:"backup_100k_seconds"`
	BackupPeakRSSMB   float64 `json:"backup_peak_rss_mb"`

	BootstrapBytes map[string]int64     `json:"bootstrap_bytes"`
	ColdStartMs    map[string]float64   `json:"cold_start_ms"`
	InitTrace      map[string]initTrace `json:"init_trace,omitempty"`

	Throughput *phaseResult   `json:"throughput,omitempty"`
	Latency    *phaseResult   `json:"latency,omitempty"`
	Bare       *bareResult    `json:"bare,omitempty"`
	Routes     []routeCost    `json:"routes,omitempty"`
	Backup     *backupResult  `json:"backup,omitempty"`
	Memory     *memoryResult  `json:"memory,omitempty"`
	Settings   map[string]any `json:"settings"`
}

// ratios hold the service against the bare path, measured in the same run.
type ratios struct {
	APICPUPerCall float64 `json:"api_cpu_per_call"`    // API ÷ bare CPU per call, throughput phase; target ≤ 1.25
	OpsPerSec     float64 `json:"ops_per_sec"`         // service ÷ bare ops/s, throughput phase; target ≥ 0.8
	P99           float64 `json:"p99_latency_clients"` // service ÷ bare p99, latency phase; target ≤ 2
}

type bareResult struct {
	Throughput *phaseResult `json:"throughput,omitempty"`
	Latency    *phaseResult `json:"latency,omitempty"`
}

type memoryResult struct {
	Workflows  int   `json:"workflows"`
	BytesDelta int64 `json:"used_memory_delta"`
	// KeyedBytesDelta is used_memory's growth for as many workflows made
	// under Idempotency-Keys.
	KeyedBytesDelta int64 `json:"keyed_used_memory_delta"`
	// UpdateBytesDelta is used_memory's growth when each of the first
	// workflows is updated once.
	UpdateBytesDelta int64 `json:"update_used_memory_delta"`
}

// routeCost is what one call of a route costs the store and the processes.
type routeCost struct {
	Op              string  `json:"op"`
	Route           string  `json:"route"`
	Calls           int     `json:"calls"`
	UpstashRequests float64 `json:"upstash_requests_per_call"`
	RedisCommands   float64 `json:"redis_commands_per_call"`
	APICPUUs        float64 `json:"api_cpu_us_per_call"`
	RESTCPUUs       float64 `json:"rest_cpu_us_per_call"`
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

// The processes' names in the CPU figures.
const (
	procAPI   = "api"
	procBare  = "bare"
	procREST  = "rest"
	procRedis = "redis"
	procLoad  = "load_generator"
)

// bench is a run's parts: Redis, and the servers in their processes.
type bench struct {
	s         settings
	rdb       *redis.Client
	redisURL  string
	prefix    string
	restToken string
	rest      *proc
	servers   map[string]*proc // procAPI and procBare
}

func run(ctx context.Context, s settings, out io.Writer) error {
	began := time.Now()
	tmp, err := os.MkdirTemp("", "ai-rails-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	b := &bench{s: s, servers: map[string]*proc{}, restToken: randomHex(24)}

	// The Redis: the one given, or our own.
	b.redisURL = s.RedisURL
	if b.redisURL == "" {
		srv, err := redistest.LaunchInstalled(tmp, redistest.NoPersistence...)
		if err != nil {
			return fmt.Errorf("%w (or set REDIS_URL)", err)
		}
		defer srv.Stop()
		b.redisURL = srv.URL()
	} else {
		b.prefix = "bench" + randomHex(3) + "_" // keep clear of the data already there
	}
	opt, err := redis.ParseURL(b.redisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	b.rdb = redis.NewClient(opt)
	defer b.rdb.Close()
	version, err := redistest.InfoField(ctx, b.rdb, "server", "redis_version")
	if err != nil {
		return fmt.Errorf("reach Redis: %w", err)
	}
	if s.RedisURL != "" {
		defer func() { _ = dropPrefix(context.Background(), b.rdb, b.prefix) }()
	}

	// The servers, each in its own process: the REST server over Redis, and
	// the API (the local stack over that REST server) and the bare path
	// beside it.
	fmt.Fprintf(os.Stderr, "bench: building the servers (at %.1f s)\n", time.Since(began).Seconds())
	serverBin, localBin := filepath.Join(tmp, "bin", "benchserve"), filepath.Join(tmp, "bin", "local")
	if err := lambdatest.Build(ctx, filepath.Join(s.Root, "scripts", "tools"), serverBin, "./benchserve"); err != nil {
		return err
	}
	if err := lambdatest.Build(ctx, filepath.Join(s.Root, "functions"), localBin, "./local"); err != nil {
		return err
	}
	pprofAddr := ""
	if s.CPUProfile != "" || s.MemProfile != "" {
		pprofAddr = "127.0.0.1:0"
	}
	if b.rest, err = startProc(procREST, serverBin, []string{"REDIS_URL=" + b.redisURL, "REST_TOKEN=" + b.restToken, "BENCH_ADDR=127.0.0.1:0"}, "rest"); err != nil {
		return err
	}
	defer b.rest.stop()
	apiKey := randomHex(16)
	if b.servers[procAPI], err = startProc(procAPI, localBin, []string{
		"LOCAL_ADDR=127.0.0.1:0", "LOCAL_VECTOR_ADDR=127.0.0.1:0", "DATA_DIR=" + filepath.Join(tmp, "api"),
		"UPSTASH_REDIS_REST_URL=" + b.rest.URL, "UPSTASH_REDIS_REST_TOKEN=" + b.restToken, "API_KEY=" + apiKey,
		"KEY_PREFIX=" + b.prefix, "SWEEP_INTERVAL=24h", "BACKUP_INTERVAL=24h", "LOG_LEVEL=" + s.LogLevel, "LOCAL_PPROF_ADDR=" + pprofAddr,
	}); err != nil {
		return err
	}
	defer b.servers[procAPI].stop()
	if b.servers[procBare], err = startProc(procBare, serverBin, []string{"UPSTASH_REDIS_REST_URL=" + b.rest.URL, "UPSTASH_REDIS_REST_TOKEN=" + b.restToken,
		"KEY_PREFIX=" + b.prefix, "BENCH_ADDR=127.0.0.1:0", "BENCH_PPROF_ADDR=" + pprofAddr}, "bare"); err != nil {
		return err
	}
	defer b.servers[procBare].stop()
	conns := max(s.Clients, s.LatencyClients)
	api := newAPIClient(b.servers[procAPI].URL, apiKey, conns)
	bareAPI := newAPIClient(b.servers[procBare].URL, "", conns)

	res := Results{
		RunAt:   time.Now().UTC(),
		Machine: fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version()),
		Redis:   version, Clients: s.Clients,
		BootstrapBytes: map[string]int64{}, ColdStartMs: map[string]float64{}, InitTrace: map[string]initTrace{},
		Settings: map[string]any{"quick": s.Quick, "duration_s": s.Duration.Seconds(), "latency_clients": s.LatencyClients, "log_level": s.LogLevel,
			"memory_workflows": s.MemoryWorkflows, "backup_keys": s.BackupKeys, "route_calls": s.RouteCalls, "redis_given": s.RedisURL != ""},
	}
	step := func(name string) bool {
		if s.Skip[name] {
			return false
		}
		fmt.Fprintf(os.Stderr, "bench: %s (at %.1f s)\n", name, time.Since(began).Seconds())
		return true
	}

	if step("memory") {
		m, err := measureMemory(ctx, b.rdb, api, s.MemoryWorkflows)
		if err != nil {
			return fmt.Errorf("memory: %w", err)
		}
		res.Memory = &m
		res.RedisBytesPerWorkflow = float64(m.BytesDelta) / float64(m.Workflows)
		res.IdempotencyBytesPerWrite = float64(m.KeyedBytesDelta-m.BytesDelta) / float64(m.Workflows)
		res.RedisBytesPerUpdatedWorkflow = float64(m.BytesDelta+m.UpdateBytesDelta) / float64(m.Workflows)
	}

	w, err := seed(api)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	bw, err := seed(bareAPI)
	if err != nil {
		return fmt.Errorf("seed the bare path: %w", err)
	}
	ws := map[string]*workload{procAPI: w, procBare: bw}
	if step("throughput") {
		var bt *phaseResult
		if res.Throughput, bt, err = b.measurePair(ctx, ws, "NWA", s.Clients, s.CPUProfile); err != nil {
			return err
		}
		if err := b.fetchProfile(procAPI, "allocs", s.MemProfile); err != nil {
			return err
		}
		res.Bare = &bareResult{Throughput: bt}
		res.APIOpsPerSec, res.BareOpsPerSec = res.Throughput.OpsPerSec, bt.OpsPerSec
		res.APICPUPerCallUs, res.BareCPUPerCallUs = res.Throughput.CPUPerCallUs[procAPI], bt.CPUPerCallUs[procBare]
		res.Errors += res.Throughput.ErrorCount
		res.UpstashRequestsPerCall = res.Throughput.UpstashRequestsPerCall
		res.RedisCommandsPerCall = res.Throughput.RedisCommandsPerCall
		res.Ratios = &ratios{APICPUPerCall: res.APICPUPerCallUs / res.BareCPUPerCallUs, OpsPerSec: res.APIOpsPerSec / res.BareOpsPerSec}
	}
	if step("latency") {
		var bl *phaseResult
		if res.Latency, bl, err = b.measurePair(ctx, ws, "NWB", s.LatencyClients, ""); err != nil {
			return err
		}
		if res.Bare == nil {
			res.Bare = &bareResult{}
		}
		res.Bare.Latency = bl
		res.P50, res.P95, res.P99, res.BareP99 = res.Latency.P50, res.Latency.P95, res.Latency.P99, bl.P99
		res.Errors += res.Latency.ErrorCount
		if res.Ratios == nil {
			res.Ratios = &ratios{}
		}
		res.Ratios.P99 = res.P99 / bl.P99
	}
	if step("baseline") {
		if res.RedisBenchmark, err = redisBenchmark(ctx, b.rdb, opt, s.Clients, s.RedisBenchmarkRequests); err != nil {
			return fmt.Errorf("redis-benchmark: %w", err)
		}
		if res.BaselineOpsPerSec, err = baseline(ctx, b.redisURL, s.Clients, s.BaselineDuration); err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		if res.APIOpsPerSec > 0 {
			res.RatioToBaseline = res.APIOpsPerSec / res.BaselineOpsPerSec
		}
	}
	if step("routes") {
		if res.Routes, err = b.measureRoutes(ctx, w, s.RouteCalls); err != nil {
			return fmt.Errorf("routes: %w", err)
		}
	}

	var bins map[string]string
	var rie string
	if !s.Skip["backup"] || !s.Skip["coldstart"] {
		fmt.Fprintf(os.Stderr, "bench: building the functions (at %.1f s)\n", time.Since(began).Seconds())
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
		if err := seedBackup(ctx, b.rdb, s.BackupKeys); err != nil {
			return fmt.Errorf("backup seed: %w", err)
		}
		bk, err := runBackup(ctx, bins["sweeper"], b.rest.URL, b.restToken, filepath.Join(tmp, "backups"))
		if err != nil {
			return err
		}
		if bk.Keys != int64(s.BackupKeys) {
			return fmt.Errorf("the backup holds %d keys, want %d", bk.Keys, s.BackupKeys)
		}
		res.Backup = &bk
		res.Backup100kSeconds = bk.Seconds * 100000 / float64(s.BackupKeys)
		res.BackupPeakRSSMB = bk.PeakRSSMB
		if err := dropPrefix(ctx, b.rdb, backupPrefix); err != nil {
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
		env := []string{"UPSTASH_REDIS_REST_URL=" + b.rest.URL, "UPSTASH_REDIS_REST_TOKEN=" + b.restToken,
			"KEY_PREFIX=" + b.prefix, "API_KEY=sample-api-key", "WEBHOOK_SECRET=bench", "AWS_LAMBDA_FUNCTION_TIMEOUT=10"} // no LOG_LEVEL: the emulator would take it, and hide its INIT REPORT
		for _, fn := range functions {
			ev := event
			if fn == "sweeper" {
				ev = sweepEvent
			}
			if res.ColdStartMs[fn], err = coldStart(rie, bins[fn], env, ev, s.ColdStarts); err != nil {
				return fmt.Errorf("cold start of %s: %w", fn, err)
			}
			if res.InitTrace[fn], err = traceInit(ctx, bins[fn], env, s.ColdStarts); err != nil {
				return fmt.Errorf("init trace of %s: %w", fn, err)
			}
		}
	}

	res.Settings["run_seconds"] = time.Since(began).Seconds()
	if err := writeJSON(s.Out, res); err != nil {
		return err
	}
	printTable(out, res, s)
	fmt.Fprintf(out, "\nwrote %s\n", s.Out)
	return nil
}

// profileFor is where a server's CPU profile of a slice goes:
// BENCH_CPUPROFILE for the API's first, with ".bare" added for the bare
// path's, and ".2", ".3", ... for the next slices (go tool pprof merges the
// files it is given); nothing when it is not set.
func profileFor(path, server string, round int) string {
	if path == "" {
		return ""
	}
	if server != procAPI {
		path += "." + server
	}
	if round > 0 {
		path += "." + strconv.Itoa(round+1)
	}
	return path
}

// sliceLength is how long the service and the bare path each take a turn
// in a phase: they alternate, so that both see the machine as it is then
// (this one is shared, and its speed drifts by tens of percent in a minute).
const sliceLength = 3 * time.Second

// measurePair runs a load phase of BENCH_DURATION against the service and
// against the bare path, alternating in slices, and divides what each
// process used by the calls. With profile set, every slice is profiled
// (profileFor names the files).
func (b *bench) measurePair(ctx context.Context, ws map[string]*workload, prefix string, clients int, profile string) (api, bare *phaseResult, err error) {
	out := map[string]*phaseResult{}
	used := map[string]usage{}
	rounds := max(1, int(b.s.Duration/sliceLength))
	slice := b.s.Duration / time.Duration(rounds)
	for _, w := range ws {
		w.prefix = prefix
		w.created.Store(0)
	}
	for round := range rounds {
		for _, server := range []string{procBare, procAPI} {
			before, err := b.snap(ctx, server)
			if err != nil {
				return nil, nil, err
			}
			profiled := make(chan error, 1)
			if path := profileFor(profile, server, round); path != "" {
				go func() {
					profiled <- b.fetchProfile(server, fmt.Sprintf("profile?seconds=%d", max(1, int(slice.Seconds())-1)), path)
				}()
			} else {
				profiled <- nil
			}
			r := ws[server].phase(clients, slice)
			d, err := b.since(ctx, server, before)
			if err != nil {
				return nil, nil, err
			}
			if err := <-profiled; err != nil {
				return nil, nil, err
			}
			if out[server] == nil {
				out[server], used[server] = &r, d
			} else {
				out[server].add(r)
				used[server] = used[server].plus(d)
			}
		}
	}
	for server, r := range out {
		u, n := used[server], float64(r.Total)
		r.Server, r.Slices = server, rounds
		r.CPUPerCallUs = map[string]float64{}
		for p, sec := range u.cpu {
			r.CPUPerCallUs[p] = sec * 1e6 / n
		}
		r.UpstashRequestsPerCall = float64(u.rest) / n
		r.RedisCommandsPerCall = float64(u.commands) / n
	}
	return out[procAPI], out[procBare], nil
}

// fetchProfile writes a server's profile (as net/http/pprof names it) to
// path; nothing when path is empty.
func (b *bench) fetchProfile(server, name, path string) error {
	if path == "" {
		return nil
	}
	p := b.servers[server]
	if p.Pprof == "" {
		return fmt.Errorf("%s serves no profiles", server)
	}
	resp, err := http.Get(p.Pprof + "/debug/pprof/" + name)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s profile %s: %s", server, name, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
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

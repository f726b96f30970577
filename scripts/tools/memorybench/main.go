// Command memorybench is `make bench-memory`: it measures the failure
// memory over the local stack, on a real Redis (a redis-server it starts)
// and the local Vector index, through the HTTP API:
//   - quality: similar failures over the labelled corpus (leave one out),
//     the purity of the fingerprint groups, and the precision and recall of
//     flaky tests on generated histories (package memoryeval);
//   - cost: Redis commands (INFO commandstats, script commands included),
//     Redis bytes (used_memory) and Vector requests per ingest of a 10-,
//     100- and 1,000-case JUnit report;
//   - scale: the local index's query latency at 10k and 100k vectors, and
//     the ingest throughput of 100-case reports.
//
// It prints a markdown table and writes the figures to BENCH_MEMORY_OUT
// (default bench/memory.json). It measures; it does not pass or fail.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ai-rails/state-service/functions/localstack"
	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/failures"
	"github.com/ai-rails/state-service/shared/memoryeval"
	"github.com/ai-rails/state-service/shared/redistest"
	"github.com/ai-rails/state-service/shared/restclient"
	"github.com/ai-rails/state-service/shared/upstashvector"
	"github.com/ai-rails/state-service/shared/upstashvector/vectorserver"
)

// Results are what BENCH_MEMORY_OUT receives.
type Results struct {
	RunAt      time.Time             `json:"run_at"`
	Machine    string                `json:"machine"`
	Redis      string                `json:"redis"`
	Similarity memoryeval.Similarity `json:"similarity"`
	Flakiness  memoryeval.Flakiness  `json:"flakiness"`
	Ingest     []ingestCost          `json:"ingest_cost"`
	Query      []queryLatency        `json:"vector_query"`
	Throughput ingestThroughput      `json:"ingest_throughput"`
}

type ingestCost struct {
	Cases           int     `json:"cases"`
	ReportBytes     int     `json:"report_bytes"`
	UpstashRequests float64 `json:"upstash_requests"`
	RedisCommands   float64 `json:"redis_commands"`
	RedisBytes      float64 `json:"redis_bytes"`
	VectorRequests  float64 `json:"vector_requests"`
	// NewFailures is true when every failure of each report is one the
	// memory has not seen: each new fingerprint is a vector to upsert.
	NewFailures bool    `json:"new_failures"`
	LatencyMs   float64 `json:"latency_ms"`
}

type queryLatency struct {
	Vectors int     `json:"vectors"`
	P50Ms   float64 `json:"p50_ms"`
	P99Ms   float64 `json:"p99_ms"`
}

type ingestThroughput struct {
	Clients       int     `json:"clients"`
	Seconds       float64 `json:"seconds"`
	ReportsPerSec float64 `json:"reports_per_sec"`
	CasesPerSec   float64 `json:"cases_per_sec"`
	P50Ms         float64 `json:"p50_ms"`
	P99Ms         float64 `json:"p99_ms"`
	Errors        int64   `json:"errors"`
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "memorybench:", err)
		os.Exit(1)
	}
}

// counting serves h and counts its requests.
type counting struct {
	h http.Handler
	n atomic.Int64
}

func (c *counting) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.n.Add(1); c.h.ServeHTTP(w, r) }

func serve(h http.Handler) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	return "http://" + l.Addr().String(), func() { srv.Close() }, nil
}

func run(ctx context.Context, out io.Writer) error {
	tmp, err := os.MkdirTemp("", "ai-rails-memorybench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	rs, err := redistest.LaunchInstalled(tmp, redistest.NoPersistence...)
	if err != nil {
		return err
	}
	defer rs.Stop()
	opt, _ := redis.ParseURL(rs.URL())
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	version, _ := redistest.InfoField(ctx, rdb, "server", "redis_version")

	vs, err := vectorserver.New(vectorserver.Options{Token: "bench-vector", Dimension: failures.Dimension, Embed: failures.Embed,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	vcount := &counting{h: vs}
	vurl, stopV, err := serve(vcount)
	if err != nil {
		return err
	}
	defer stopV()

	cfg, err := localstack.ReadConfig(config.MapLookup(map[string]string{
		"LOCAL_ADDR": "127.0.0.1:0", "LOCAL_REST_ADDR": "127.0.0.1:0", "DATA_DIR": tmp, "REDIS_URL": rs.URL(),
		"UPSTASH_VECTOR_REST_URL": vurl, "UPSTASH_VECTOR_REST_TOKEN": "bench-vector",
		"SWEEP_INTERVAL": "24h", "BACKUP_INTERVAL": "24h", "METRICS_FLUSH_INTERVAL": "24h",
	}))
	if err != nil {
		return err
	}
	stack, err := localstack.Start(ctx, cfg, io.Discard, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer stack.Shutdown(context.Background())
	api := &memoryeval.Client{Base: stack.APIURL, Key: cfg.APIKey}

	res := Results{RunAt: time.Now().UTC(), Machine: fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version()), Redis: version}
	corpus, err := memoryeval.Corpus()
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "similarity over the corpus ...")
	if res.Similarity, err = memoryeval.MeasureSimilarity(ctx, api, corpus, "corpus"); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "flaky tests over generated histories ...")
	if res.Flakiness, err = memoryeval.MeasureFlakiness(ctx, api, 42, 20, "bench"); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "cost per ingest ...")
	for _, fresh := range []bool{false, true} {
		for _, n := range []int{10, 100, 1000} {
			c, err := measureIngest(ctx, stack, rdb, vcount, cfg.APIKey, corpus, n, fresh)
			if err != nil {
				return err
			}
			res.Ingest = append(res.Ingest, c)
		}
	}
	fmt.Fprintln(os.Stderr, "ingest throughput ...")
	if res.Throughput, err = throughput(ctx, stack.APIURL, cfg.APIKey, corpus, 8, 10*time.Second); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "vector queries at 10k and 100k ...")
	for _, n := range []int{10_000, 100_000} {
		q, err := queryScale(ctx, n)
		if err != nil {
			return err
		}
		res.Query = append(res.Query, q)
	}
	report(out, res)
	path := os.Getenv("BENCH_MEMORY_OUT")
	if path == "" {
		path = "bench/memory.json"
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// junit writes a report of n cases, a tenth of them failing with messages
// of the corpus, so that they fall into a few failure groups.
func junit(r *rand.Rand, n int, corpus []memoryeval.Item, fresh bool) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><testsuite name="bench">`)
	for i := range n {
		fmt.Fprintf(&b, `<testcase classname="bench.module%d" name="test_case_%04d" time="0.%03d">`, i%20, i, r.IntN(999))
		if i%10 == 3 {
			msg := corpus[r.IntN(len(corpus))].Message
			if fresh {
				msg = "E   UnseenError: in module " + word(r) + "\n" + msg
			}
			fmt.Fprintf(&b, `<failure message="%s"/>`, xmlEscape(msg))
		}
		b.WriteString(`</testcase>`)
	}
	b.WriteString(`</testsuite>`)
	return b.String()
}

// word is a random word of letters: it survives normalisation, so it makes
// a new fingerprint.
func word(r *rand.Rand) string {
	b := make([]byte, 10)
	for i := range b {
		b[i] = byte('a' + r.IntN(26))
	}
	return string(b)
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "\n", "&#10;", "\t", "&#9;").Replace(s)
}

func post(ctx context.Context, base, key, path, contentType, body string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", base+path, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("x-api-key", key)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// measureIngest posts reports of n cases to one suite, after one that makes
// its keys, and averages what each costs.
func measureIngest(ctx context.Context, stack *localstack.Stack, rdb *redis.Client, vcount *counting, key string, corpus []memoryeval.Item, n int, fresh bool) (ingestCost, error) {
	const runs = 5
	r := rand.New(rand.NewPCG(uint64(n), 1))
	suite := fmt.Sprintf("cost-%d-%v", n, fresh)
	path := "/api/results?workflow_id=CST-000001&test_suite=" + suite + "&commit=abcdef1&attempt=1"
	send := func() (int, time.Duration, error) {
		body := junit(r, n, corpus, fresh)
		start := time.Now()
		code, err := post(ctx, stack.APIURL, key, path, "application/xml", body)
		if err == nil && code != http.StatusCreated {
			err = fmt.Errorf("ingest of %d cases: status %d", n, code)
		}
		return len(body), time.Since(start), err
	}
	if _, _, err := send(); err != nil {
		return ingestCost{}, err
	}
	cmds0, _ := redistest.CommandCalls(ctx, rdb)
	mem0, _ := redistest.UsedMemory(ctx, rdb)
	rest0, vec0 := stack.RESTRequests(), vcount.n.Load()
	var size int
	var took time.Duration
	for range runs {
		sz, d, err := send()
		if err != nil {
			return ingestCost{}, err
		}
		size, took = sz, took+d
	}
	cmds1, _ := redistest.CommandCalls(ctx, rdb)
	mem1, _ := redistest.UsedMemory(ctx, rdb)
	return ingestCost{Cases: n, ReportBytes: size, NewFailures: fresh,
		UpstashRequests: float64(stack.RESTRequests()-rest0) / runs, RedisCommands: float64(cmds1-cmds0) / runs,
		RedisBytes: float64(mem1-mem0) / runs, VectorRequests: float64(vcount.n.Load()-vec0) / runs,
		LatencyMs: float64(took.Microseconds()) / 1000 / runs}, nil
}

// throughput posts 100-case reports from clients for d.
func throughput(ctx context.Context, base, key string, corpus []memoryeval.Item, clients int, d time.Duration) (ingestThroughput, error) {
	res := ingestThroughput{Clients: clients}
	var mu sync.Mutex
	var lat []time.Duration
	var errs atomic.Int64
	end := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(c), 2))
			path := fmt.Sprintf("/api/results?workflow_id=THR-%06d&test_suite=throughput", c)
			for time.Now().Before(end) {
				body := junit(r, 100, corpus, false)
				t0 := time.Now()
				code, err := post(ctx, base, key, path, "application/xml", body)
				if err != nil || code != http.StatusCreated {
					errs.Add(1)
					continue
				}
				mu.Lock()
				lat = append(lat, time.Since(t0))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	res.ReportsPerSec = float64(len(lat)) / res.Seconds
	res.CasesPerSec = res.ReportsPerSec * 100
	res.P50Ms, res.P99Ms = pct(lat, 0.5), pct(lat, 0.99)
	res.Errors = errs.Load()
	return res, nil
}

func pct(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return float64(d[min(len(d)-1, int(p*float64(len(d))))].Microseconds()) / 1000
}

// queryScale fills a local index with n random unit vectors and times
// queries through our client.
func queryScale(ctx context.Context, n int) (queryLatency, error) {
	vs, err := vectorserver.New(vectorserver.Options{Token: "t", Dimension: failures.Dimension, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return queryLatency{}, err
	}
	url, stop, err := serve(vs)
	if err != nil {
		return queryLatency{}, err
	}
	defer stop()
	c, err := upstashvector.New(upstashvector.Options{Options: restclient.Options{URL: url, Token: "t", Timeout: time.Minute}})
	if err != nil {
		return queryLatency{}, err
	}
	r := rand.New(rand.NewPCG(uint64(n), 3))
	vec := func() []float32 {
		v := make([]float32, failures.Dimension)
		for i := range v {
			v[i] = float32(int(r.NormFloat64()*1000)) / 1000
		}
		return v
	}
	for i := 0; i < n; i += 1000 {
		batch := make([]upstashvector.Vector, 0, 1000)
		for j := i; j < min(n, i+1000); j++ {
			batch = append(batch, upstashvector.Vector{ID: fmt.Sprintf("%016x", j), Vector: vec()})
		}
		if err := c.Upsert(ctx, batch); err != nil {
			return queryLatency{}, err
		}
	}
	var lat []time.Duration
	for range 200 {
		q := vec()
		t0 := time.Now()
		if _, err := c.Query(ctx, upstashvector.Query{Vector: q, TopK: 6}); err != nil {
			return queryLatency{}, err
		}
		lat = append(lat, time.Since(t0))
	}
	return queryLatency{Vectors: n, P50Ms: pct(lat, 0.5), P99Ms: pct(lat, 0.99)}, nil
}

func report(out io.Writer, r Results) {
	s, f := r.Similarity, r.Flakiness
	fmt.Fprintf(out, "Failure memory, %s, Redis %s, %s\n\n", r.Machine, r.Redis, r.RunAt.Format(time.RFC3339))
	fmt.Fprintf(out, "| figure | measured | target |\n|---|---|---|\n")
	fmt.Fprintf(out, "| similar failures, top-1 / top-5 family accuracy (leave one out, %d messages, %d families) | %.3f / %.3f | top-1 ≥ 0.9 |\n", s.Messages, s.Families, s.Top1, s.Top5)
	fmt.Fprintf(out, "| the same, leaving out the message's whole fingerprint (the embedding alone) | %.3f / %.3f | |\n", s.Top1Unseen, s.Top5Unseen)
	fmt.Fprintf(out, "| fingerprint groups: %d for %d messages; purity | %.3f | |\n", s.Fingerprints, s.Messages, s.Purity)
	fmt.Fprintf(out, "| flaky tests: precision / recall (%d tests, %d flaky, %d reported) | %.3f / %.3f | ≥ 0.95 each |\n", f.Tests, f.Flaky, f.Reported, f.Precision, f.Recall)
	for _, c := range r.Ingest {
		kind := "failures seen before"
		if c.NewFailures {
			kind = "every failure new"
		}
		fmt.Fprintf(out, "| ingest of a %d-case JUnit report (%d bytes, a tenth failing, %s): Upstash requests / Redis commands / Redis bytes / Vector requests / latency | %.0f / %.0f / %.0f / %.1f / %.1f ms | |\n",
			c.Cases, c.ReportBytes, kind, c.UpstashRequests, c.RedisCommands, c.RedisBytes, c.VectorRequests, c.LatencyMs)
	}
	t := r.Throughput
	fmt.Fprintf(out, "| ingest of 100-case reports, %d clients | %.0f reports/s (%.0f cases/s), p50 %.1f ms, p99 %.1f ms, %d errors | |\n", t.Clients, t.ReportsPerSec, t.CasesPerSec, t.P50Ms, t.P99Ms, t.Errors)
	for _, q := range r.Query {
		fmt.Fprintf(out, "| local vector query, %d vectors of %d dimensions (exact cosine, through our client) | p50 %.1f ms, p99 %.1f ms | |\n", q.Vectors, failures.Dimension, q.P50Ms, q.P99Ms)
	}
}

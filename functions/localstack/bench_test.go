package localstack

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/redistest"
)

// benchStack starts the local stack over a real redis-server and returns it
// with a keep-alive HTTP client.
func benchStack(b *testing.B) (*Stack, Config, *http.Client) {
	b.Helper()
	return benchStackWith(b, map[string]string{"REDIS_URL": redistest.Start(b).URL()})
}

// benchStackWith starts the local stack with env added to its settings.
func benchStackWith(b *testing.B, extra map[string]string) (*Stack, Config, *http.Client) {
	b.Helper()
	env := map[string]string{"LOCAL_ADDR": "127.0.0.1:0", "LOCAL_REST_ADDR": "127.0.0.1:0", "LOCAL_VECTOR_ADDR": "127.0.0.1:0", "DATA_DIR": b.TempDir()}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := ReadConfig(config.MapLookup(env))
	if err != nil {
		b.Fatal(err)
	}
	s, err := Start(context.Background(), cfg, io.Discard, slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError})))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	return s, cfg, &http.Client{Transport: tr}
}

// latencies gathers per-request durations and reports p50 and p99.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B) {
	sort.Slice(l.d, func(i, j int) bool { return l.d[i] < l.d[j] })
	if len(l.d) == 0 {
		return
	}
	b.ReportMetric(float64(l.d[len(l.d)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(l.d[len(l.d)*99/100].Microseconds())/1000, "p99-ms")
}

func call(b *testing.B, c *http.Client, key, method, url string, body []byte, want int) {
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.Header.Set("x-api-key", key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Errorf("%s %s: %d, want %d", method, url, resp.StatusCode, want)
	}
}

// BenchmarkWorkflowLocalPath measures save, get and patch through the whole
// local path: HTTP to the API, the handler, the Upstash client, HTTP to the
// REST server, and a real redis-server, with 16 parallel clients.
func BenchmarkWorkflowLocalPath(b *testing.B) {
	s, cfg, c := benchStack(b)
	const workflows = 256
	for i := range workflows {
		call(b, c, cfg.APIKey, "POST", s.APIURL+"/api/workflow/state",
			fmt.Appendf(nil, `{"workflow_id":"BEN-%06d","feature_description":"benchmark","metadata":{"pr":%d}}`, i, i), http.StatusCreated)
	}
	ops := map[string]func(i int64) (string, string, []byte, int){
		"save": func(i int64) (string, string, []byte, int) {
			return "POST", "/api/workflow/state", fmt.Appendf(nil, `{"workflow_id":"BEN-%06d","current_stage":"s%d"}`, i%workflows, i), http.StatusOK
		},
		"get": func(i int64) (string, string, []byte, int) {
			return "GET", fmt.Sprintf("/api/workflow/state/BEN-%06d", i%workflows), nil, http.StatusOK
		},
		"patch": func(i int64) (string, string, []byte, int) {
			return "PATCH", fmt.Sprintf("/api/workflow/state/BEN-%06d", i%workflows), fmt.Appendf(nil, `{"metadata":{"n":%d}}`, i), http.StatusOK
		},
	}
	for _, name := range []string{"save", "get", "patch"} {
		op := ops[name]
		b.Run(name, func(b *testing.B) {
			var lat latencies
			var n atomic.Int64
			b.SetParallelism(8) // 16 clients on 2 cores
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					method, path, body, want := op(n.Add(1))
					start := time.Now()
					call(b, c, cfg.APIKey, method, s.APIURL+path, body, want)
					lat.add(time.Since(start))
				}
			})
			b.StopTimer()
			lat.report(b)
		})
	}
}

// BenchmarkEmbeddedWrites measures workflow writes (PATCH) per second on
// the embedded store, the local default, with each journal fsync setting,
// from 16 parallel clients.
func BenchmarkEmbeddedWrites(b *testing.B) {
	for _, fsync := range []string{"always", "everysec"} {
		b.Run("fsync="+fsync, func(b *testing.B) {
			s, cfg, c := benchStackWith(b, map[string]string{"LOCAL_FSYNC": fsync})
			const workflows = 256
			for i := range workflows {
				call(b, c, cfg.APIKey, "POST", s.APIURL+"/api/workflow/state",
					fmt.Appendf(nil, `{"workflow_id":"BEN-%06d","feature_description":"benchmark"}`, i), http.StatusCreated)
			}
			var lat latencies
			var n atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					t0 := time.Now()
					call(b, c, cfg.APIKey, "PATCH", fmt.Sprintf("%s/api/workflow/state/BEN-%06d", s.APIURL, i%workflows), fmt.Appendf(nil, `{"metadata":{"n":%d}}`, i), http.StatusOK)
					lat.add(time.Since(t0))
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
			lat.report(b)
		})
	}
}

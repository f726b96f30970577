package approval_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
	"github.com/ai-rails/state-service/shared/wiring"
)

// waitBench is the API over real Redis behind the REST server, with the
// REST requests counted on their way and Redis's commands read from INFO.
type waitBench struct {
	e     *servicetest.Env
	rdb   *redis.Client
	calls atomic.Int64
}

func newWaitBench(b *testing.B) *waitBench {
	be := upstashtest.Real(b)
	w := &waitBench{}
	target, _ := url.Parse(be.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	counting := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.calls.Add(1)
		proxy.ServeHTTP(rw, r)
	}))
	b.Cleanup(counting.Close)
	w.e = servicetest.NewWith(b, be, func(c *config.Config, _ *wiring.Options) { c.Store.URL = counting.URL })
	opt, err := redis.ParseURL(be.RedisURL)
	if err != nil {
		b.Fatal(err)
	}
	w.rdb = redis.NewClient(opt)
	b.Cleanup(func() { _ = w.rdb.Close() })
	a := w.e.Do(req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": wf, "feature_description": "x"}})
	if a.Status != http.StatusCreated {
		b.Fatalf("workflow: %d %s", a.Status, a.Raw)
	}
	return w
}

// commands is Redis's count of commands processed so far, less the INFO
// that reads it.
func (w *waitBench) commands(b *testing.B) int64 {
	info, err := w.rdb.Info(context.Background(), "stats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "total_commands_processed:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	b.Fatal("no total_commands_processed in INFO")
	return 0
}

func (w *waitBench) approval(b *testing.B) string {
	a := w.e.Do(req{Method: "POST", Path: "/api/approval", Body: createBody(nil)})
	if a.Status != http.StatusCreated {
		b.Fatalf("create: %d %s", a.Status, a.Raw)
	}
	return a.Body["approval_id"].(string)
}

// BenchmarkWaitCost holds a 25 s wait (GET ?wait=25) on an approval
// nobody decides, and reports what a second of waiting costs: REST
// requests to Upstash and Redis commands.
func BenchmarkWaitCost(b *testing.B) {
	w := newWaitBench(b)
	id := w.approval(b)
	var waited time.Duration
	var calls, cmds int64
	b.ResetTimer()
	for range b.N {
		c0, r0 := w.calls.Load(), w.commands(b)
		start := time.Now()
		a := w.e.Do(req{Method: "GET", Path: "/api/approval/" + id + "?wait=25"})
		waited += time.Since(start)
		calls += w.calls.Load() - c0
		cmds += w.commands(b) - r0 - 1
		if a.Body["status"] != "pending" {
			b.Fatalf("the approval is %v", a.Body["status"])
		}
	}
	b.ReportMetric(float64(calls)/waited.Seconds(), "rest-req/s-waited")
	b.ReportMetric(float64(cmds)/waited.Seconds(), "redis-cmd/s-waited")
	b.ReportMetric(float64(calls)/float64(b.N), "rest-req/wait")
}

// BenchmarkDecisionToAnswer starts a 25 s wait, decides the approval after
// a random pause (0.1 to 20 s, so that the decision falls anywhere in the
// backoff), and reports the time from the decision's answer to the
// waiter's: its mean, median and worst.
func BenchmarkDecisionToAnswer(b *testing.B) {
	w := newWaitBench(b)
	rng := rand.New(rand.NewPCG(1, 2))
	var lat []time.Duration
	b.ResetTimer()
	for range b.N {
		id := w.approval(b)
		done := make(chan time.Time, 1)
		go func() {
			w.e.Do(req{Method: "GET", Path: "/api/approval/" + id + "?wait=25"})
			done <- time.Now()
		}()
		time.Sleep(100*time.Millisecond + time.Duration(rng.Int64N(int64(19900*time.Millisecond))))
		d := w.e.Do(req{Method: "POST", Path: "/api/approval/" + id + "/decision", Body: map[string]any{"decision": "approved", "approver": "alice"}})
		decided := time.Now()
		if d.Status != http.StatusOK {
			b.Fatalf("decide: %d %s", d.Status, d.Raw)
		}
		lat = append(lat, (<-done).Sub(decided))
	}
	slices.Sort(lat)
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	b.ReportMetric(float64(sum.Milliseconds())/float64(len(lat)), "ms-mean")
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "ms-p50")
	b.ReportMetric(float64(lat[len(lat)-1].Milliseconds()), "ms-max")
}

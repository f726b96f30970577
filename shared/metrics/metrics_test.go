package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/health"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/metrics"
	"github.com/ai-rails/state-service/shared/routes"
	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
	"github.com/ai-rails/state-service/shared/wiring"
)

type req = servicetest.Req

func counters(t *testing.T, a servicetest.Answer, i int) map[string]any {
	t.Helper()
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
	return a.Body["buckets"].([]any)[i].(map[string]any)["counters"].(map[string]any)
}

func TestHourlyCounters(t *testing.T) {
	servicetest.ForEachBackend(t, func(t *testing.T, e *servicetest.Env) {
		e.Do(req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": "ABC-123456", "feature_description": "x"}})
		e.Do(req{Method: "PATCH", Path: "/api/workflow/state/ABC-123456", Body: map[string]any{"status": "completed"}}) // 409
		e.Do(req{Method: "GET", Path: "/api/workflow/state/bad"})                                                       // 400, no store call
		e.Do(req{Method: "POST", Path: "/api/lock/r1", Body: map[string]any{"owner": "a"}})
		e.Do(req{Method: "POST", Path: "/api/lock/r1", Body: map[string]any{"owner": "b"}}) // 409
		e.Clock.Advance(time.Hour)
		e.Do(req{Method: "GET", Path: "/api/workflow/state/ABC-123456"})

		a := e.Do(req{Method: "GET", Path: "/api/metrics?hours=3"})
		buckets := a.Body["buckets"].([]any)
		require.Len(t, buckets, 3)
		assert.Equal(t, "2026112611", buckets[0].(map[string]any)["hour"])
		assert.Equal(t, "2026112610", buckets[1].(map[string]any)["hour"])
		assert.Equal(t, "2026112609", buckets[2].(map[string]any)["hour"])
		assert.Equal(t, map[string]any{
			"requests": float64(5), "errors": float64(0), "client_errors": float64(3), "store_round_trips": float64(4),
			"workflow_created": float64(1), "workflow_updated": float64(0), "workflow_deleted": float64(0),
			"lock_acquired": float64(1), "lock_conflicts": float64(1), "approval_created": float64(0), "approval_decided": float64(0), "results_stored": float64(0),
		}, counters(t, a, 1), "one store round trip per request that reaches the store")
		assert.Equal(t, float64(1), counters(t, a, 0)["requests"], "this hour: the GET; the metrics read itself is counted after it answers")
		for _, n := range metrics.Names {
			assert.Equal(t, float64(0), counters(t, a, 2)[n])
		}
		k, _ := keys.ParseMetricName("requests")
		ttl := e.PTTL(e.Keys.Metric(k, servicetest.Start))
		assert.InDelta(t, (30 * 24 * time.Hour).Seconds(), ttl.Seconds(), 5)

		a = e.Do(req{Method: "GET", Path: "/api/metrics"})
		assert.Len(t, a.Body["buckets"], 24)
		for _, bad := range []string{"0", "721", "x"} {
			a = e.Do(req{Method: "GET", Path: "/api/metrics?hours=" + bad})
			assert.Equal(t, http.StatusBadRequest, a.Status, bad)
		}
	})
}

func TestCountsWaitForTheInterval(t *testing.T) {
	b := upstashtest.Mini(t)
	clock := servicetest.NewClock(servicetest.Start)
	c := metrics.NewCounters(keys.Default(), clock.Now, time.Minute)
	var opts upstash.Options
	metrics.Instrument(&opts, c)
	client := b.Client(t, opts)
	ctx := context.Background()

	_, err := client.Do(ctx, "PING") // flushes nothing: nothing pending
	require.NoError(t, err)
	c.Add(metrics.Requests, 2)
	_, err = client.Do(ctx, "PING") // the first flush may go at once
	require.NoError(t, err)
	assert.Empty(t, c.Pending())
	c.Add(metrics.Requests, 3)
	_, err = client.Do(ctx, "PING")
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"requests": 3}, c.Pending(), "held until a minute has passed")
	clock.Advance(time.Minute)
	_, err = client.Do(ctx, "PING")
	require.NoError(t, err)
	assert.Empty(t, c.Pending())
	rep, err := metrics.Read(ctx, client, keys.Default(), servicetest.Start, 1)
	require.NoError(t, err)
	assert.Equal(t, int64(5), rep.Buckets[0].Counters["requests"])

	// A failed call gives its counts back.
	b.Mini.Close()
	c.Add(metrics.Errors, 1)
	_, err = client.Do(metrics.Flush(ctx), "PING")
	require.Error(t, err)
	assert.Equal(t, map[string]int64{"errors": 1}, c.Pending())
}

func TestEMFLines(t *testing.T) {
	b := upstashtest.Mini(t)
	var out bytes.Buffer
	svc, err := wiring.Build(t.Context(), config.Config{Store: config.Store{URL: b.URL, Token: upstashtest.Token}},
		wiring.Options{Function: "workflow", Out: &out, EMF: true, Logger: slog.New(slog.DiscardHandler), Backend: health.BackendUpstash})
	require.NoError(t, err)
	h := svc.Handler(routes.Workflow)

	for _, path := range []string{"/api/health", "/api/workflow/state/ABC-123456", "/nowhere"} {
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("X-Request-Id", "rid-"+path)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 3)
	var rec []map[string]any
	for _, l := range lines {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m))
		rec = append(rec, m)
	}
	assert.Equal(t, "GET /api/health", rec[0]["Route"])
	assert.Equal(t, float64(200), rec[0]["Status"])
	assert.Equal(t, float64(1), rec[0]["UpstashRoundTrips"])
	assert.Equal(t, "rid-/api/health", rec[0]["RequestId"])
	assert.Equal(t, "workflow", rec[0]["Function"])
	assert.Equal(t, "GET /api/workflow/state/{workflow_id}", rec[1]["Route"])
	assert.Equal(t, float64(404), rec[1]["Status"])
	assert.Equal(t, "unmatched", rec[2]["Route"])
	assert.Equal(t, float64(0), rec[2]["UpstashRoundTrips"])
	aws := rec[0]["_aws"].(map[string]any)
	cw := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
	assert.Equal(t, "AIRails/StateService", cw["Namespace"])
	assert.Len(t, cw["Metrics"], 4)
	assert.Positive(t, aws["Timestamp"])
	assert.Equal(t, float64(0), rec[0]["Errors"])
	assert.Equal(t, float64(0), rec[1]["Errors"], "a 404 is not an error of the service")

	// A store that is down makes a 503, which counts as an error.
	b.Server.Close()
	out.Reset()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/health", nil))
	var down map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &down), out.String())
	assert.Equal(t, float64(503), down["Status"])
	assert.Equal(t, float64(1), down["Errors"])
}

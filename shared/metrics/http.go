package metrics

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/upstash"
)

type tripsKey struct{}

// CountRoundTrips is an upstash.Hook that adds each call's round trips to
// the request's tally, for the EMF line.
func CountRoundTrips(ctx context.Context, call upstash.Call) {
	if n, ok := ctx.Value(tripsKey{}).(*atomic.Int64); ok {
		n.Add(int64(call.RoundTrips))
	}
}

// Middleware counts every request (requests, errors, client_errors,
// store_round_trips) and, when emf is not nil, writes one CloudWatch
// Embedded Metric Format line per request to it.
func Middleware(c *Counters, function string, emf io.Writer) httpkit.Middleware {
	var mu sync.Mutex
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			trips := new(atomic.Int64)
			ctx := context.WithValue(WithCounters(r.Context(), c), tripsKey{}, trips)
			rec := &httpkit.Recorder{ResponseWriter: w}
			r = r.WithContext(ctx)
			next.ServeHTTP(rec, r)
			status := rec.Status()
			c.Add(Requests, 1)
			switch {
			case status >= 500:
				c.Add(Errors, 1)
			case status >= 400:
				c.Add(ClientErrors, 1)
			}
			c.Add(RoundTrips, trips.Load())
			if emf == nil {
				return
			}
			line, _ := json.Marshal(emfLine(function, r.Pattern, status, time.Since(start), trips.Load(), w.Header().Get(httpkit.RequestIDHeader), start))
			mu.Lock()
			defer mu.Unlock()
			_, _ = emf.Write(append(line, '\n'))
		})
	}
}

// emfLine builds an Embedded Metric Format record: the metrics by function
// and route, with the status and request id as plain properties (not
// dimensions, to keep CloudWatch's cardinality low).
func emfLine(function, route string, status int, d time.Duration, trips int64, requestID string, at time.Time) map[string]any {
	if route == "" {
		route = "unmatched"
	}
	errs := 0
	if status >= 500 {
		errs = 1
	}
	return map[string]any{
		"_aws": map[string]any{
			"Timestamp": at.UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "AIRails/StateService",
				"Dimensions": [][]string{{"Function", "Route"}, {"Function"}},
				"Metrics": []any{
					map[string]string{"Name": "Requests", "Unit": "Count"},
					map[string]string{"Name": "Errors", "Unit": "Count"},
					map[string]string{"Name": "Duration", "Unit": "Milliseconds"},
					map[string]string{"Name": "UpstashRoundTrips", "Unit": "Count"},
				},
			}},
		},
		"Function":          function,
		"Route":             route,
		"Status":            status,
		"Requests":          1,
		"Errors":            errs,
		"Duration":          float64(d.Microseconds()) / 1000,
		"UpstashRoundTrips": trips,
		"RequestId":         requestID,
	}
}

// Limits of GET /api/metrics.
const (
	DefaultHours = 24
	MaxHours     = 720 // the 30 days counters are kept
)

// Bucket is one hour's counters.
type Bucket struct {
	Hour     string           `json:"hour"`
	Counters map[string]int64 `json:"counters"`
}

// Report is the answer of GET /api/metrics.
type Report struct {
	Buckets []Bucket `json:"buckets"`
}

// Reader reads the hourly counters.
type Reader struct {
	c *upstash.Client
	k keys.Schema
}

// NewReader returns a Reader.
func NewReader(c *upstash.Client, k keys.Schema) *Reader { return &Reader{c: c, k: k} }

// Read reads the counters of the hours up to and including last, newest
// first, with one MGET that also carries this process's pending counts.
func (r *Reader) Read(ctx context.Context, last time.Time, hours int) (Report, error) {
	return Read(Flush(ctx), r.c, r.k, last, hours)
}

// Read reads the counters of the hours up to and including last.
func Read(ctx context.Context, c *upstash.Client, k keys.Schema, last time.Time, hours int) (Report, error) {
	cmd := []any{"MGET"}
	for h := range hours {
		at := last.Add(-time.Duration(h) * time.Hour)
		for _, n := range Names {
			name, _ := keys.ParseMetricName(n)
			cmd = append(cmd, k.Metric(name, at))
		}
	}
	vals, err := upstash.Values(c.Do(ctx, cmd...))
	if err != nil {
		return Report{}, err
	}
	rep := Report{Buckets: make([]Bucket, hours)}
	for h := range hours {
		b := Bucket{Hour: last.Add(-time.Duration(h) * time.Hour).Format(keys.MetricHourLayout), Counters: map[string]int64{}}
		for i, n := range Names {
			v, _ := upstash.Int64(vals[h*len(Names)+i], nil)
			b.Counters[n] = v
		}
		rep.Buckets[h] = b
	}
	return rep, nil
}

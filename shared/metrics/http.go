package metrics

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-json-experiment/json/jsontext"

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
			line := appendEMF(make([]byte, 0, 512), function, r.Pattern, status, time.Since(start), trips.Load(), w.Header().Get(httpkit.RequestIDHeader), start)
			mu.Lock()
			defer mu.Unlock()
			_, _ = emf.Write(append(line, '\n'))
		})
	}
}

// emfMetrics is the fixed part of every EMF line: the metrics' declaration.
// The keys are in the order encoding/json sorted them in when the line was
// a map, so that the lines are the same bytes as they were.
const emfMetrics = `,"_aws":{"CloudWatchMetrics":[{"Dimensions":[["Function","Route"],["Function"]],` +
	`"Metrics":[{"Name":"Requests","Unit":"Count"},{"Name":"Errors","Unit":"Count"},` +
	`{"Name":"Duration","Unit":"Milliseconds"},{"Name":"UpstashRoundTrips","Unit":"Count"}],` +
	`"Namespace":"AIRails/StateService"}],"Timestamp":`

// appendEMF appends an Embedded Metric Format record: the metrics by
// function and route, with the status and request id as plain properties
// (not dimensions, to keep CloudWatch's cardinality low). It is written by
// hand, not as a map through encoding/json: Lambda runs it on every request.
func appendEMF(dst []byte, function, route string, status int, d time.Duration, trips int64, requestID string, at time.Time) []byte {
	if route == "" {
		route = "unmatched"
	}
	errs := 0
	if status >= 500 {
		errs = 1
	}
	dst = append(dst, `{"Duration":`...)
	dst = strconv.AppendFloat(dst, float64(d.Microseconds())/1000, 'f', -1, 64)
	dst = append(dst, `,"Errors":`...)
	dst = strconv.AppendInt(dst, int64(errs), 10)
	dst = append(dst, `,"Function":`...)
	dst, _ = jsontext.AppendQuote(dst, function)
	dst = append(dst, `,"RequestId":`...)
	dst, _ = jsontext.AppendQuote(dst, requestID)
	dst = append(dst, `,"Requests":1,"Route":`...)
	dst, _ = jsontext.AppendQuote(dst, route)
	dst = append(dst, `,"Status":`...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, `,"UpstashRoundTrips":`...)
	dst = strconv.AppendInt(dst, trips, 10)
	dst = append(dst, emfMetrics...)
	dst = strconv.AppendInt(dst, at.UnixMilli(), 10)
	return append(dst, '}', '}')
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

// Package metrics counts what the service does, two ways: hourly counters in
// the store (ai_rails_metric_{name}_{yyyymmddhh}, kept 30 days, read back by
// GET /api/metrics), and one CloudWatch Embedded Metric Format line per
// request in Lambda.
//
// Counting costs no round trip: counts gather in memory and ride along with
// the next store call (upstash.Options.Piggyback) as one EVAL. Counts a
// process holds when it dies are lost, and a call that fails after reaching
// the store may count twice: these are operational figures, not a ledger.
package metrics

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/upstash"
)

// The counters the service keeps. GET /api/metrics answers each of them for
// every hour, 0 when nothing was counted.
const (
	Requests        = "requests"      // every answer
	Errors          = "errors"        // answers of 500 and above
	ClientErrors    = "client_errors" // answers from 400 to 499
	RoundTrips      = "store_round_trips"
	WorkflowCreated = "workflow_created"
	WorkflowUpdated = "workflow_updated"
	WorkflowDeleted = "workflow_deleted"
	LockAcquired    = "lock_acquired"
	LockConflicts   = "lock_conflicts"
	ApprovalCreated = "approval_created"
	ApprovalDecided = "approval_decided"
	ResultsStored   = "results_stored"
)

// Names lists every counter, in the order answers list them.
var Names = []string{Requests, Errors, ClientErrors, RoundTrips,
	WorkflowCreated, WorkflowUpdated, WorkflowDeleted, LockAcquired, LockConflicts,
	ApprovalCreated, ApprovalDecided, ResultsStored}

// flushScript adds each ARGV count to its KEYS counter and sets the TTL
// (ARGV[1], seconds); it is sent whole each time (EVAL), because a
// piggybacked EVALSHA that met NOSCRIPT would drop its counts.
const flushScript = `for i, k in ipairs(KEYS) do redis.call('INCRBY', k, ARGV[i + 1]) redis.call('EXPIRE', k, ARGV[1]) end return #KEYS`

type bucket struct {
	name string
	hour time.Time
}

// Counters gathers counts in memory until a store call carries them.
type Counters struct {
	keys     keys.Schema
	now      func() time.Time
	interval time.Duration

	mu        sync.Mutex
	pending   map[bucket]int64
	lastFlush time.Time
}

// NewCounters returns Counters that flush at most once per interval (0:
// with every store call) unless a call asks with Flush.
func NewCounters(k keys.Schema, now func() time.Time, interval time.Duration) *Counters {
	if now == nil {
		now = time.Now
	}
	return &Counters{keys: k, now: now, interval: interval, pending: map[bucket]int64{}}
}

// Add counts n of name in the current hour.
func (c *Counters) Add(name string, n int64) {
	if c == nil || n == 0 {
		return
	}
	b := bucket{name, c.now().UTC().Truncate(time.Hour)}
	c.mu.Lock()
	c.pending[b] += n
	c.mu.Unlock()
}

type flushKey struct{}

// Flush marks ctx so that its store call carries the pending counts
// whatever the interval, as GET /api/metrics does before it reads.
func Flush(ctx context.Context) context.Context { return context.WithValue(ctx, flushKey{}, true) }

// Piggyback is an upstash.Options.Piggyback: it hands the pending counts to
// the next store call as one EVAL, and takes them back if the call fails.
func (c *Counters) Piggyback(ctx context.Context) ([]any, func(bool)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	forced, _ := ctx.Value(flushKey{}).(bool)
	if len(c.pending) == 0 || (!forced && now.Sub(c.lastFlush) < c.interval) {
		return nil, nil
	}
	taken := c.pending
	c.pending = map[bucket]int64{}
	c.lastFlush = now
	bs := make([]bucket, 0, len(taken))
	for b := range taken {
		bs = append(bs, b)
	}
	sort.Slice(bs, func(i, j int) bool { return c.key(bs[i]) < c.key(bs[j]) })
	cmd := []any{"EVAL", flushScript, len(bs)}
	for _, b := range bs {
		cmd = append(cmd, c.key(b))
	}
	cmd = append(cmd, int64(keys.MetricTTL/time.Second))
	for _, b := range bs {
		cmd = append(cmd, taken[b])
	}
	return cmd, func(ok bool) {
		if ok {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for b, n := range taken {
			c.pending[b] += n
		}
	}
}

func (c *Counters) key(b bucket) string {
	name, err := keys.ParseMetricName(b.name)
	if err != nil {
		// Names are this package's constants; a bad one is a programming error.
		panic(err)
	}
	return c.keys.Metric(name, b.hour)
}

// Pending returns the counts not yet flushed, for tests and shutdown logs.
func (c *Counters) Pending() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int64{}
	for b, n := range c.pending {
		out[b.name] += n
	}
	return out
}

type countersKey struct{}

// WithCounters returns a context carrying c, so that handlers can Count.
func WithCounters(ctx context.Context, c *Counters) context.Context {
	return context.WithValue(ctx, countersKey{}, c)
}

// Count adds one to name in the request's counters, if it has any.
func Count(ctx context.Context, name string) {
	c, _ := ctx.Value(countersKey{}).(*Counters)
	c.Add(name, 1)
}

// Instrument sets up client options so that calls carry the pending counts
// and add their round trips to the request's tally.
func Instrument(opts *upstash.Options, c *Counters) {
	opts.Hooks = append(opts.Hooks, CountRoundTrips)
	if c != nil {
		opts.Piggyback = c.Piggyback
	}
}

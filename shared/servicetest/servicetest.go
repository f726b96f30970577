// Package servicetest drives the API in tests: the real handlers over the real
// REST server and client, on a real redis-server or miniredis, with a clock
// the test sets, a snapshot of the store to show that a failed request wrote
// nothing, and every answer checked against the OpenAPI document.
package servicetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/failures"
	"github.com/ai-rails/state-service/shared/health"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/mcpserver"
	"github.com/ai-rails/state-service/shared/metrics"
	"github.com/ai-rails/state-service/shared/openapi"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
	"github.com/ai-rails/state-service/shared/upstashvector/vectorserver"
	"github.com/ai-rails/state-service/shared/wiring"
)

// APIKey is the key of every test API.
const APIKey = "test-api-key"

// Clock is a settable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set sets the clock.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// Start is where test clocks start.
var Start = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// Env is an API over one backend.
type Env struct {
	T       testing.TB
	Backend *upstashtest.Backend
	Client  *upstash.Client
	Clock   *Clock
	Keys    keys.Schema
	Handler http.Handler
	Metrics *metrics.Counters
	// Service is the wired service.
	Service *wiring.Service
	// Vector is the failure memory's vector index: a local
	// Upstash-Vector-compatible server, in memory.
	Vector    *vectorserver.Server
	VectorURL string
	redis     *redis.Client
}

// VectorToken is the test vector index's token.
const VectorToken = "test-vector-token"

// WebhookSecret signs the test API's webhooks.
const WebhookSecret = "test-webhook-secret"

// New builds the whole API over the backend, wired as every entry point
// wires it (package wiring).
func New(tb testing.TB, b *upstashtest.Backend) *Env {
	tb.Helper()
	return NewWith(tb, b, nil)
}

// NewWith is New with a last say over the configuration and the wiring
// options. By default, callbacks may use http on loopback (the test
// receivers), and webhooks are signed with WebhookSecret and retried within
// a one-second budget.
func NewWith(tb testing.TB, b *upstashtest.Backend, configure func(*config.Config, *wiring.Options)) *Env {
	tb.Helper()
	e := &Env{T: tb, Backend: b, Clock: NewClock(Start), redis: b.Server.Redis()}
	vs, err := vectorserver.New(vectorserver.Options{Token: VectorToken, Dimension: failures.Dimension, Embed: failures.Embed,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatalf("vectorserver.New: %v", err)
	}
	hs := httptest.NewServer(vs)
	tb.Cleanup(hs.Close)
	e.Vector, e.VectorURL = vs, hs.URL
	// Wired as every entry point is (package wiring), over the backend.
	cfg := config.Config{
		Store:  config.Store{URL: b.URL, Token: upstashtest.Token},
		Memory: config.Memory{VectorURL: hs.URL, VectorToken: VectorToken, Embedding: "local"},
		APIKey: APIKey,
		Approvals: config.Approvals{AllowInsecureCallbacks: true, WebhookSecret: WebhookSecret, WebhookBudget: time.Second,
			LinkSecret: "test-link-secret"},
	}
	opts := wiring.Options{MCP: mcpserver.FromHandlers,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)), Backend: health.BackendLocal, Now: e.Clock.Now,
		WebhookBackoff: 10 * time.Millisecond,
	}
	if configure != nil {
		configure(&cfg, &opts)
	}
	svc, err := wiring.Build(context.Background(), cfg, opts)
	if err != nil {
		tb.Fatalf("wiring.Build: %v", err)
	}
	e.Client, e.Keys, e.Metrics, e.Service = svc.Client, svc.Keys, svc.Metrics, svc
	e.Handler = svc.Handler()
	return e
}

// ForEachBackendWith is ForEachBackend with NewWith's configure.
func ForEachBackendWith(t *testing.T, configure func(*config.Config, *wiring.Options), fn func(t *testing.T, e *Env)) {
	for _, b := range upstashtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) { fn(t, NewWith(t, b, configure)) })
	}
}

// ForEachBackend runs fn with an Env over real Redis and one over miniredis.
func ForEachBackend(t *testing.T, fn func(t *testing.T, e *Env)) {
	for _, b := range upstashtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) { fn(t, New(t, b)) })
	}
}

// Answer is a recorded answer.
type Answer struct {
	Status int
	Header http.Header
	Raw    []byte
	Body   map[string]any
}

// Req is a request to make.
type Req struct {
	Method, Path string
	Body         any // a string is sent as is; anything else as JSON
	Header       map[string]string
}

// Do sends a request with the API key and a JSON content type (unless the
// request sets its own), and records the answer.
func (e *Env) Do(r Req) Answer {
	e.T.Helper()
	var body io.Reader
	switch b := r.Body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.T.Fatalf("marshal body: %v", err)
		}
		body = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(r.Method, r.Path, body)
	req.Header.Set("x-api-key", APIKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.Header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	w := httptest.NewRecorder()
	e.Handler.ServeHTTP(w, req)
	a := Answer{Status: w.Code, Header: w.Header(), Raw: w.Body.Bytes()}
	if err := CheckContract(req, w.Code, w.Header(), a.Raw); err != nil {
		e.T.Errorf("contract: %v", err)
	}
	if len(a.Raw) > 0 && a.Raw[0] == '{' {
		if err := json.Unmarshal(a.Raw, &a.Body); err != nil {
			e.T.Fatalf("%s %s answered invalid JSON %q: %v", r.Method, r.Path, a.Raw, err)
		}
	}
	return a
}

var (
	validatorOnce sync.Once
	validator     *openapi.Validator
	validatorErr  error
)

// CheckContract validates an answer against the OpenAPI document. Answers
// to requests the document has no operation for (unknown routes) pass.
func CheckContract(r *http.Request, status int, header http.Header, body []byte) error {
	validatorOnce.Do(func() { validator, validatorErr = openapi.NewValidator() })
	if validatorErr != nil {
		return validatorErr
	}
	err := validator.Check(r, status, header, body)
	if errors.Is(err, openapi.ErrNoRoute) {
		return nil
	}
	return err
}

// Snapshot returns every key with its type, value and whether it has a TTL,
// for comparing the store before and after a request. Metric counters are
// left out: any request may carry the counts of earlier ones.
func (e *Env) Snapshot() map[string]string {
	e.T.Helper()
	ctx := context.Background()
	out := map[string]string{}
	keys, err := e.redis.Keys(ctx, "*").Result()
	if err != nil {
		e.T.Fatalf("snapshot: %v", err)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.HasPrefix(k, e.Keys.MetricPrefix()) {
			continue
		}
		typ := e.redis.Type(ctx, k).Val()
		var v any
		switch typ {
		case "string":
			v = e.redis.Get(ctx, k).Val()
		case "zset":
			v = e.redis.ZRangeWithScores(ctx, k, 0, -1).Val()
		case "stream":
			v = e.redis.XRange(ctx, k, "-", "+").Val()
		case "hash":
			v = e.redis.HGetAll(ctx, k).Val()
		case "list":
			v = e.redis.LRange(ctx, k, 0, -1).Val()
		case "set":
			v = e.redis.SMembers(ctx, k).Val()
		}
		ttl := e.redis.PTTL(ctx, k).Val() > 0
		raw, _ := json.Marshal(map[string]any{"type": typ, "value": v, "ttl": ttl})
		out[k] = string(raw)
	}
	return out
}

// PTTL returns a key's remaining time to live.
func (e *Env) PTTL(key string) time.Duration {
	e.T.Helper()
	d, err := e.redis.PTTL(context.Background(), key).Result()
	if err != nil {
		e.T.Fatalf("PTTL %s: %v", key, err)
	}
	return d
}

// FastForward moves the backend's clock for TTLs on by d: miniredis's
// FastForward, or, on real Redis, nothing (use PTTL checks there).
func (e *Env) FastForward(d time.Duration) bool {
	if e.Backend.Mini == nil {
		return false
	}
	e.Backend.Mini.FastForward(d)
	return true
}

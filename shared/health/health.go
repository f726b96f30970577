// Package health is the check behind GET /api/health: whether the store
// answers, how fast, how many keys it holds, and the circuit breaker's
// state.
package health

import (
	"context"
	"fmt"
	"time"

	"github.com/ai-rails/state-service/shared/upstash"
)

// Version is the build's version, set with
// -ldflags "-X github.com/ai-rails/state-service/shared/health.Version=...".
var Version = "dev"

// Backends, as the health answer names them.
const (
	BackendUpstash = "upstash"
	BackendLocal   = "local" // the local stack's embedded store
	BackendRedis   = "redis" // the local stack over REDIS_URL
)

// Store is what the health check asks of the store client.
type Store interface {
	Pipeline(ctx context.Context, cmds ...[]any) ([]upstash.Result, error)
	CircuitState() string
}

// Report is the answer of a healthy store.
type Report struct {
	Status  string      `json:"status"`
	Store   StoreReport `json:"store"`
	Version string      `json:"version"`
}

// StoreReport describes the store.
type StoreReport struct {
	Backend   string  `json:"backend"`
	LatencyMS float64 `json:"latency_ms"`
	Keys      int64   `json:"keys"`
	Circuit   string  `json:"circuit"`
}

// Failure is the answer of an unhealthy store.
type Failure struct {
	Status  string `json:"status"`
	Error   string `json:"error"`
	Circuit string `json:"circuit"`
	Version string `json:"version"`
}

// Check asks the store for PING and DBSIZE in one round trip.
func Check(ctx context.Context, s Store, backend string) (Report, error) {
	start := time.Now()
	res, err := s.Pipeline(ctx, []any{"PING"}, []any{"DBSIZE"})
	latency := time.Since(start)
	if err != nil {
		return Report{}, err
	}
	for _, r := range res {
		if r.Err != nil {
			return Report{}, r.Err
		}
	}
	if res[0].Value != "PONG" {
		return Report{}, fmt.Errorf("PING answered %v", res[0].Value)
	}
	keys, err := upstash.Int64(res[1].Value, nil)
	if err != nil {
		return Report{}, fmt.Errorf("DBSIZE: %w", err)
	}
	return Report{
		Status: "healthy",
		Store: StoreReport{
			Backend:   backend,
			LatencyMS: float64(latency.Microseconds()) / 1000,
			Keys:      keys,
			Circuit:   s.CircuitState(),
		},
		Version: Version,
	}, nil
}

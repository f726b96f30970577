// Package api assembles the service's HTTP API: the routes every function
// serves (health) and the routes each function mounts, inside httpkit's
// middleware. Lambda functions, the local stack and the tests all build
// their handler here, so they serve the same thing.
package api

import (
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/ai-rails/state-service/shared/health"
	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/idempotency"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/metrics"
	"github.com/ai-rails/state-service/shared/routes"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/webhook"
)

// Deps are what the routes use, built once at cold start.
type Deps struct {
	Store   *upstash.Client
	Keys    keys.Schema
	Logger  *slog.Logger
	Backend string // health.BackendUpstash or health.BackendLocal
	// APIKey is checked on every request when set (the local stack); in AWS,
	// API Gateway checks it.
	APIKey string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Metrics gathers the hourly counters; nil counts nothing. The client
	// must carry its counts (metrics.Instrument).
	Metrics *metrics.Counters
	// Function names the function in EMF lines, which go to EMF when set.
	Function string
	EMF      io.Writer
	// Approvals are the approval function's settings.
	Approvals Approvals
}

// Approvals are the settings of the approval routes.
type Approvals struct {
	// AllowSelfApproval lets a requester decide their own approval
	// (ALLOW_SELF_APPROVAL).
	AllowSelfApproval bool
	// Retention is how long a decided or expired approval is kept
	// (APPROVAL_RETENTION_HOURS, default 168 h).
	Retention time.Duration
	// Guard checks callback URLs; Deliverer sends the webhooks.
	Guard     *webhook.Guard
	Deliverer *webhook.Deliverer
}

// Mount adds a function's routes to the router.
type Mount func(rt *httpkit.Router, d Deps)

// Register adds handlers to the router at the patterns the route table
// (package routes) gives their names. A name the table does not hold is a
// programming error, and panics at startup.
func Register(rt *httpkit.Router, handlers map[string]httpkit.HandlerFunc) {
	for name, h := range handlers {
		handle(rt, name, h)
	}
}

func handle(rt *httpkit.Router, name string, h http.Handler) {
	route, ok := routes.Named(name)
	if !ok {
		panic("api: no route named " + name + " in routes.Table")
	}
	rt.Handle(route.Pattern(), h)
}

// Handler returns the API: GET /api/health and GET /api/metrics, plus the
// mounted routes.
func Handler(d Deps, mounts ...Mount) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	rt := httpkit.NewRouter()
	handle(rt, "health.get", health.Handler(d.Store, d.Backend))
	handle(rt, "metrics.get", metrics.Handler(d.Store, d.Keys, d.Now))
	for _, m := range mounts {
		m(rt, d)
	}
	return httpkit.New(httpkit.Config{
		APIKey: d.APIKey, Logger: d.Logger,
		Observe: []httpkit.Middleware{metrics.Middleware(d.Metrics, d.Function, d.EMF)},
		Inner:   []httpkit.Middleware{idempotency.Middleware(d.Keys)},
	}, rt)
}

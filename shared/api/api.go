// Package api assembles the service's HTTP API: the routes every function
// serves (health) and the routes each function mounts, inside httpapi's
// middleware. Lambda functions, the local stack and the tests all build
// their handler here, so they serve the same thing.
package api

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/ai-rails/state-service/shared/health"
	"github.com/ai-rails/state-service/shared/httpapi"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/upstash"
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
}

// Mount adds a function's routes to the router.
type Mount func(rt *httpapi.Router, d Deps)

// Handler returns the API: GET /api/health plus the mounted routes.
func Handler(d Deps, mounts ...Mount) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	rt := httpapi.NewRouter()
	rt.Handle("GET /api/health", health.Handler(d.Store, d.Backend))
	for _, m := range mounts {
		m(rt, d)
	}
	return httpapi.New(httpapi.Config{APIKey: d.APIKey, Logger: d.Logger}, rt)
}

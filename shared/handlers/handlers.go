// Package handlers is the HTTP adapter of the service: one handler per
// route of the route table (package routes), each reading the request,
// calling a domain service and writing the answer, or returning an error
// that httpkit maps to problem+json through apperr's one table. New
// assembles them, inside httpkit's middleware, for a Lambda function, the
// local stack or a test: they all serve the same thing.
package handlers

import (
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/ai-rails/state-service/shared/access"
	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/approval"
	"github.com/ai-rails/state-service/shared/failures"
	"github.com/ai-rails/state-service/shared/health"
	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/idempotency"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/lock"
	"github.com/ai-rails/state-service/shared/metrics"
	"github.com/ai-rails/state-service/shared/results"
	"github.com/ai-rails/state-service/shared/routes"
	"github.com/ai-rails/state-service/shared/testhistory"
	"github.com/ai-rails/state-service/shared/workflow"
)

// Services are what the handlers call, built once by package wiring.
type Services struct {
	Workflows workflow.Service
	Locks     lock.Service
	Approvals *approval.Service
	Results   results.Service
	// TestHistory and Failures read the failure memory, which Results
	// writes.
	TestHistory testhistory.Service
	Failures    failures.Service
	// Health is the store the health check pings.
	Health health.Store
	// Metrics reads the hourly counters.
	Metrics *metrics.Reader
	// MCP is the MCP endpoint (package mcpserver), where it is served:
	// the mcp function, the local stack and the tests. The other
	// functions leave it nil, and do not link the MCP SDK.
	MCP http.Handler
}

// Config are the HTTP settings.
type Config struct {
	// Clients finds the calling client of each request (package access):
	// by its key locally, by its API Gateway key id in AWS; nil lets every
	// request through with every scope (API Gateway alone checks the key).
	Clients access.Resolver
	// Backend names the store in GET /api/health.
	Backend string
	Logger  *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Keys is the key schema, for the Idempotency-Key records.
	Keys keys.Schema
	// Counters gathers the hourly counters; nil counts nothing.
	Counters *metrics.Counters
	// Function names the function in EMF lines, which go to EMF when set.
	Function string
	EMF      io.Writer
	// Extra are routes outside the table, by pattern (the local stack's
	// GET /api/openapi.json).
	Extra map[string]http.Handler
	// PublicBaseURL is where approvers' links point; its origin is the
	// approval page's own.
	PublicBaseURL string
}

// byName returns every route's handler, by its name in the route table.
func (s Services) byName(c Config) map[string]httpkit.HandlerFunc {
	all := map[string]httpkit.HandlerFunc{
		"health.get":  healthCheck{store: s.Health, backend: c.Backend}.get,
		"metrics.get": metricsRead{reader: s.Metrics, now: c.Now}.get,
	}
	for _, group := range []map[string]httpkit.HandlerFunc{
		workflows{s.Workflows}.routes(), locks{s.Locks}.routes(), approvals{s.Approvals}.routes(),
		resultRoutes{svc: s.Results, now: c.Now}.routes(),
		memoryRoutes{tests: s.TestHistory, failures: s.Failures}.routes(),
		approvalPage{svc: s.Approvals, results: s.Results, origin: originOf(c.PublicBaseURL)}.routes(),
		{"mcp.serve": serveMCP(s.MCP)},
	} {
		for name, h := range group {
			all[name] = h
		}
	}
	return all
}

// serveMCP is POST /mcp: the MCP server, whose tools call the services
// the REST routes call; not found where there is none.
func serveMCP(h http.Handler) httpkit.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if h == nil {
			return apperr.New(apperr.NotFound, "this function does not serve MCP")
		}
		h.ServeHTTP(w, r)
		return nil
	}
}

// Names returns the names of every handler there is, for the tests that
// hold them to the route table.
func Names() []string {
	var names []string
	for name := range (Services{}).byName(Config{}) {
		names = append(names, name)
	}
	return names
}

// New returns the API of the functions named (routes.Workflow, ...): the
// routes the table gives them and the routes every function serves. With
// no function named, it serves every route (the local stack, the tests). A
// route of the table without a handler is a programming error, and
// panics.
func New(s Services, c Config, functions ...string) http.Handler {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	all := s.byName(c)
	rt := httpkit.NewRouter()
	public := map[string]bool{}
	for _, r := range routes.Table {
		if r.Public {
			public[r.Pattern()] = true
		}
		if !serves(r, functions) {
			continue
		}
		h, ok := all[r.Name]
		if !ok {
			panic("handlers: no handler named " + r.Name + " for " + r.Pattern())
		}
		if !r.Public {
			h = access.Require(access.Scope(r.Scope), h)
		}
		rt.Handle(r.Pattern(), h)
	}
	for pattern, h := range c.Extra {
		rt.Handle(pattern, h)
	}
	return httpkit.New(httpkit.Config{
		Auth:    access.Authenticate(c.Clients, func(r *http.Request) bool { return public[rt.Pattern(r)] }),
		Logger:  c.Logger,
		Observe: []httpkit.Middleware{metrics.Middleware(c.Counters, c.Function, c.EMF)},
		Inner:   []httpkit.Middleware{httpkit.OnRoutes(rt, idempotency.Middleware(c.Keys))},
	}, rt)
}

// answer writes v with 200, unless err: how every read ends.
func answer[T any](w http.ResponseWriter, r *http.Request, v T, err error) error {
	if err != nil {
		return err
	}
	httpkit.WriteJSON(w, r, http.StatusOK, v)
	return nil
}

func serves(r routes.Route, functions []string) bool {
	if len(functions) == 0 || r.Everywhere {
		return true
	}
	for _, f := range functions {
		if r.Function == f {
			return true
		}
	}
	return false
}

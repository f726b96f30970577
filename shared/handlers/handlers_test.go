package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/routes"
	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
	"github.com/ai-rails/state-service/shared/wiring"
)

// The API answers its routes, routes outside the table given as Extra, and
// not-found for the rest; the key is checked on every one, and reads are
// never cached.
func TestNewServesTheTableAndExtras(t *testing.T) {
	e := servicetest.NewWith(t, upstashtest.Mini(t), func(c *config.Config, _ *wiring.Options) { c.APIKey = "k" })
	svc := e.Service
	svc.HTTP.Extra = map[string]http.Handler{"GET /api/ping": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })}
	h := svc.Handler()
	for path, want := range map[string]int{"/api/health": 200, "/api/ping": 204, "/api/nope": 404} {
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("x-api-key", "k")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		assert.Equal(t, want, w.Code, path)
		assert.Equal(t, "no-store", w.Header().Get("Cache-Control"), path)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/api/health", nil))
	assert.Equal(t, 403, w.Code, "the key is checked")

	// A function serves its own routes and the routes every function serves.
	wf := svc.Handler(routes.Results)
	for _, c := range []struct {
		method, path string
		served       bool
	}{{"GET", "/api/health", true}, {"GET", "/api/results/run-1", true}, {"GET", "/api/workflow/state/ABC-123456", false}} {
		r := httptest.NewRequest(c.method, c.path, nil)
		r.Header.Set("x-api-key", "k")
		w := httptest.NewRecorder()
		wf.ServeHTTP(w, r)
		assert.Equal(t, c.served, !strings.Contains(w.Body.String(), "no route for"), c.path)
	}
}

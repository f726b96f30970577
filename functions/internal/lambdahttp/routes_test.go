package lambdahttp

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/routes"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
)

// Each function serves the routes the route table gives it, the routes
// every function serves, and no other: API Gateway sends a route only to
// its function, so a route mounted in the wrong one would never be reached.
func TestEachFunctionServesItsRoutes(t *testing.T) {
	b := upstashtest.Mini(t)
	path := strings.NewReplacer("{workflow_id}", "ABC-123456", "{resource_id}", "r",
		"{approval_id}", "3f0c6a8e-5b7d-4c1e-9a2b-1d2e3f4a5b6c", "{test_id}", "run-1")
	seen := map[string]bool{}
	for name, fn := range Functions {
		h, err := Handler(context.Background(), config.MapLookup(map[string]string{
			"UPSTASH_REDIS_REST_URL": b.URL, "UPSTASH_REDIS_REST_TOKEN": upstashtest.Token, "WEBHOOK_SECRET": "s",
		}), &bytes.Buffer{}, fn)
		require.NoError(t, err, name)
		for _, r := range routes.Table {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(r.Method, path.Replace(r.Path), strings.NewReader("{}")))
			served := !strings.Contains(w.Body.String(), "no route for") && w.Code != http.StatusMethodNotAllowed
			want := r.Function == name || r.Everywhere
			assert.Equal(t, want, served, "%s serves %s", name, r.Pattern())
			if served && r.Function == name {
				seen[r.Pattern()] = true
			}
		}
	}
	for _, r := range routes.Table {
		assert.True(t, seen[r.Pattern()], "%s is served by its function %s", r.Pattern(), r.Function)
	}
}

package workflow_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/upstash"
)

// TestOneRoundTripPerCall checks that every workflow and lock route, metrics
// counting included, makes exactly one store round trip once the scripts are
// loaded, and none when the request is refused before the store.
func TestOneRoundTripPerCall(t *testing.T) {
	servicetest.ForEachBackend(t, func(t *testing.T, e *servicetest.Env) {
		// Run every script once, as the steps below are not all first runs.
		create(t, e, "WRM-000001", nil)
		e.Do(req{Method: "DELETE", Path: "/api/workflow/state/WRM-000001"})
		e.Do(req{Method: "GET", Path: "/api/workflow/state"})
		l := e.Do(req{Method: "POST", Path: "/api/lock/warm", Body: map[string]any{"owner": "a"}})
		tok := l.Body["token"].(string)
		e.Do(req{Method: "PUT", Path: "/api/lock/warm", Header: map[string]string{"Lock-Token": tok}, Body: map[string]any{}})
		e.Do(req{Method: "DELETE", Path: "/api/lock/warm", Header: map[string]string{"Lock-Token": tok}})

		steps := []struct {
			r     req
			trips uint64
		}{
			{req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": id, "feature_description": "x"}}, 1},
			{req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": id, "status": "in_progress"}}, 1},
			{req{Method: "PATCH", Path: "/api/workflow/state/" + id, Body: map[string]any{"metadata": map[string]any{"a": 1}}}, 1},
			{req{Method: "PATCH", Path: "/api/workflow/state/" + id, Body: map[string]any{"status": "pending"}}, 1},
			{req{Method: "GET", Path: "/api/workflow/state/" + id}, 1},
			{req{Method: "GET", Path: "/api/workflow/state?status=in_progress&limit=5"}, 1},
			{req{Method: "GET", Path: "/api/workflow/state/" + id + "/history"}, 1},
			{req{Method: "DELETE", Path: "/api/workflow/state/" + id}, 1},
			{req{Method: "POST", Path: "/api/lock/res", Body: map[string]any{"owner": "a"}}, 1},
			{req{Method: "POST", Path: "/api/lock/res", Body: map[string]any{"owner": "b"}}, 1},
			{req{Method: "GET", Path: "/api/health"}, 1},
			{req{Method: "GET", Path: "/api/metrics?hours=2"}, 1},
			{req{Method: "GET", Path: "/api/workflow/state/bad-id"}, 0},
			{req{Method: "POST", Path: "/api/workflow/state", Body: `{"oops"`}, 0},
		}
		for _, s := range steps {
			before := e.Client.Stats().RoundTrips
			a := e.Do(s.r)
			assert.Less(t, a.Status, 500, "%s %s: %s", s.r.Method, s.r.Path, a.Raw)
			assert.Equal(t, s.trips, e.Client.Stats().RoundTrips-before, "%s %s answered %d", s.r.Method, s.r.Path, a.Status)
		}
		// The counts rode along: nothing is left to flush.
		_, err := e.Client.Do(context.Background(), "PING")
		require.NoError(t, err)
		assert.Empty(t, e.Metrics.Pending())
		n, err := upstash.Int64(e.Client.Do(context.Background(), "GET", "ai_rails_metric_requests_2026112610"))
		require.NoError(t, err)
		assert.Equal(t, int64(6+len(steps)), n, "6 warm-up requests and the steps")
		assert.Equal(t, http.StatusOK, e.Do(req{Method: "GET", Path: "/api/health"}).Status)
	})
}

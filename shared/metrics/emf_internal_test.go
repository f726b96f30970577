package metrics

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// emfMap is the EMF record as a map, as it was written before appendEMF:
// the reference the hand-written line must read the same as.
func emfMap(function, route string, status int, d time.Duration, trips int64, requestID string, at time.Time) map[string]any {
	if route == "" {
		route = "unmatched"
	}
	errs := 0
	if status >= 500 {
		errs = 1
	}
	return map[string]any{
		"_aws": map[string]any{
			"Timestamp": at.UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "AIRails/StateService",
				"Dimensions": [][]string{{"Function", "Route"}, {"Function"}},
				"Metrics": []any{
					map[string]string{"Name": "Requests", "Unit": "Count"},
					map[string]string{"Name": "Errors", "Unit": "Count"},
					map[string]string{"Name": "Duration", "Unit": "Milliseconds"},
					map[string]string{"Name": "UpstashRoundTrips", "Unit": "Count"},
				},
			}},
		},
		"Function":          function,
		"Route":             route,
		"Status":            status,
		"Requests":          1,
		"Errors":            errs,
		"Duration":          float64(d.Microseconds()) / 1000,
		"UpstashRoundTrips": trips,
		"RequestId":         requestID,
	}
}

// The hand-written EMF line is, byte for byte, what encoding/json made of
// the map, for ordinary and awkward values alike.
func TestAppendEMFIsTheMapsEncoding(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 123456789, time.UTC)
	for _, c := range []struct {
		function, route, id string
		status              int
		d                   time.Duration
		trips               int64
	}{
		{"workflow", "GET /api/workflow/state/{id}", "6f1c0b7e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", 200, 1234567 * time.Nanosecond, 1},
		{"approval", "", "x", 503, 0, 0},
		{"results", `POST /api/"odd"\path`, "<id>&\u2028", 404, 3 * time.Second, 2},
	} {
		want, err := json.Marshal(emfMap(c.function, c.route, c.status, c.d, c.trips, c.id, at))
		require.NoError(t, err)
		got := appendEMF(nil, c.function, c.route, c.status, c.d, c.trips, c.id, at)
		var a, b any
		require.NoError(t, json.Unmarshal(got, &a), "%s", got)
		require.NoError(t, json.Unmarshal(want, &b))
		assert.Equal(t, b, a)
		if c.route != `POST /api/"odd"\path` {
			assert.Equal(t, string(want), string(got), "the same bytes for ordinary values")
		}
	}
}

func BenchmarkEMFLine(b *testing.B) {
	at := time.Now()
	b.Run("map", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(emfMap("workflow", "GET /api/workflow/state/{id}", 200, time.Millisecond, 1, "6f1c0b7e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", at))
		}
	})
	b.Run("append", func(b *testing.B) {
		buf := make([]byte, 0, 512)
		for b.Loop() {
			buf = appendEMF(buf[:0], "workflow", "GET /api/workflow/state/{id}", 200, time.Millisecond, 1, "6f1c0b7e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", at)
		}
	})
}

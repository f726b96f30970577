package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/handlers"
	"github.com/ai-rails/state-service/shared/health"
	"github.com/ai-rails/state-service/shared/restclient"
	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
)

func get(t *testing.T, h http.Handler) (int, http.Header, map[string]any) {
	t.Helper()
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/api/health", nil)
	h.ServeHTTP(w, r)
	assert.NoError(t, servicetest.CheckContract(r, w.Code, w.Header(), w.Body.Bytes()))
	var body map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	return w.Code, w.Header(), body
}

func TestHealthy(t *testing.T) {
	for _, b := range upstashtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			c := b.Client(t, upstash.Options{})
			for _, k := range []string{"a", "b", "c"} {
				_, err := c.Do(t.Context(), "SET", k, "1")
				require.NoError(t, err)
			}
			before := c.Stats().RoundTrips
			status, _, body := get(t, handlers.New(handlers.Services{Health: c}, handlers.Config{Backend: health.BackendLocal}))
			assert.Equal(t, http.StatusOK, status)
			assert.Equal(t, uint64(1), c.Stats().RoundTrips-before, "one round trip")
			assert.Equal(t, "healthy", body["status"])
			assert.Equal(t, health.Version, body["version"])
			store := body["store"].(map[string]any)
			assert.Equal(t, "local", store["backend"])
			assert.Equal(t, float64(3), store["keys"])
			assert.Equal(t, "closed", store["circuit"])
			assert.GreaterOrEqual(t, store["latency_ms"], float64(0))
		})
	}
}

func TestUnhealthy(t *testing.T) {
	b := upstashtest.Real(t)
	c := b.Client(t, upstash.Options{Options: restclient.Options{MaxRetries: -1}})
	b.Redis.Stop()
	status, hdr, body := get(t, handlers.New(handlers.Services{Health: c}, handlers.Config{Backend: health.BackendUpstash}))
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Equal(t, "1", hdr.Get("Retry-After"))
	assert.Equal(t, "unhealthy", body["status"])
	assert.Contains(t, body["error"], "upstash:")
	assert.NotContains(t, body["error"], upstashtest.Token)
}

package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ai-rails/state-service/shared/api"
	"github.com/ai-rails/state-service/shared/health"
	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
)

func TestHandlerServesHealthAndMounts(t *testing.T) {
	b := upstashtest.Mini(t)
	d := api.Deps{Store: b.Client(t, upstash.Options{}), Keys: keys.Default(), Backend: health.BackendLocal, APIKey: "k"}
	var mounted api.Deps
	h := api.Handler(d, func(rt *httpkit.Router, d api.Deps) {
		mounted = d
		rt.HandleFunc("GET /api/ping", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	})
	assert.NotNil(t, mounted.Logger, "mounts get a logger")

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
}

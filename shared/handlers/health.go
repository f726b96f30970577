package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/ai-rails/state-service/shared/health"
	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/upstash"
)

// healthCheck serves GET /api/health.
type healthCheck struct {
	store   health.Store
	backend string
}

// get answers 200 with a health.Report, or 503 with a health.Failure and
// Retry-After when the store does not answer.
func (h healthCheck) get(w http.ResponseWriter, r *http.Request) error {
	rep, err := health.Check(r.Context(), h.store, h.backend)
	if err != nil {
		retry := max(upstash.RetryAfter(err), time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(int(retry.Round(time.Second).Seconds())))
		httpkit.WriteJSON(w, r, http.StatusServiceUnavailable, health.Failure{
			Status: "unhealthy", Error: err.Error(), Circuit: h.store.CircuitState(), Version: health.Version,
		})
		return nil
	}
	httpkit.WriteJSON(w, r, http.StatusOK, rep)
	return nil
}

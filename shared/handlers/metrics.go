package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/metrics"
)

// metricsRead serves GET /api/metrics.
type metricsRead struct {
	reader *metrics.Reader
	now    func() time.Time
}

// get answers ?hours= (1 to metrics.MaxHours, default metrics.DefaultHours)
// hours of counters, this one included, newest first.
func (h metricsRead) get(w http.ResponseWriter, r *http.Request) error {
	hours := metrics.DefaultHours
	if q := r.URL.Query(); q.Has("hours") {
		n, err := strconv.Atoi(q.Get("hours"))
		if err != nil || n < 1 || n > metrics.MaxHours {
			return apperr.Invalid(apperr.Field("hours", "must be an integer from 1 to %d", metrics.MaxHours))
		}
		hours = n
	}
	rep, err := h.reader.Read(r.Context(), h.now().UTC().Truncate(time.Hour), hours)
	if err != nil {
		return err
	}
	httpkit.WriteJSON(w, r, http.StatusOK, rep)
	return nil
}

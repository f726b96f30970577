package httpkit

import (
	"net/url"
	"strconv"

	"github.com/ai-rails/state-service/shared/apperr"
)

// List limits of API.md.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// ListParams reads ?limit= (1 to 200, default 50) and ?cursor= (opaque; an
// empty one is refused), adding what is wrong to errs.
func ListParams(q url.Values, errs *apperr.Collector) (int, string) {
	limit := DefaultLimit
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 || n > MaxLimit {
			errs.Add("limit", "must be an integer from 1 to %d", MaxLimit)
		}
		limit = n
	}
	cursor := q.Get("cursor")
	if q.Has("cursor") && cursor == "" {
		errs.Add("cursor", "is not a cursor this API returned")
	}
	return limit, cursor
}

// Package httpkit is the base of every route: routing with http.ServeMux
// method patterns, problem+json errors (RFC 9457), JSON bodies with their
// limits, the x-api-key check, request ids, no-store reads and access logs.
package httpkit

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/observe"
	"github.com/ai-rails/state-service/shared/upstash"
)

// ProblemContentType is the media type of every error answer.
const ProblemContentType = "application/problem+json"

// ProblemTypePrefix starts every problem type URI.
const ProblemTypePrefix = "urn:ai-rails:problem:"

type problemKind struct {
	status int
	slug   string
	title  string
}

// problems is the one table from error kinds to HTTP answers. API.md names
// no slug for 405 and 422; those two use slugs of their own.
var problems = map[apperr.Kind]problemKind{
	apperr.Validation:           {http.StatusBadRequest, "validation", "The request is invalid"},
	apperr.Forbidden:            {http.StatusForbidden, "forbidden", "Forbidden"},
	apperr.NotFound:             {http.StatusNotFound, "not-found", "Not found"},
	apperr.MethodNotAllowed:     {http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed"},
	apperr.Conflict:             {http.StatusConflict, "conflict", "Conflict"},
	apperr.InvalidTransition:    {http.StatusConflict, "invalid-transition", "Invalid status transition"},
	apperr.Gone:                 {http.StatusGone, "gone", "Gone"},
	apperr.PreconditionFailed:   {http.StatusPreconditionFailed, "precondition-failed", "Precondition failed"},
	apperr.TooLarge:             {http.StatusRequestEntityTooLarge, "too-large", "Request body too large"},
	apperr.UnsupportedMediaType: {http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type"},
	apperr.Unprocessable:        {http.StatusUnprocessableEntity, "unprocessable", "Unprocessable request"},
	apperr.StoreUnavailable:     {http.StatusServiceUnavailable, "store-unavailable", "Store unavailable"},
	apperr.Internal:             {http.StatusInternalServerError, "internal", "Internal error"},
}

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type   string              `json:"type"`
	Title  string              `json:"title"`
	Status int                 `json:"status"`
	Detail string              `json:"detail,omitempty"`
	Errors []apperr.FieldError `json:"errors,omitempty"`
	Extra  map[string]any      `json:"-"`
}

// MarshalJSON writes the members, then the extra members.
func (p Problem) MarshalJSON() ([]byte, error) {
	m := map[string]any{"type": p.Type, "title": p.Title, "status": p.Status}
	if p.Detail != "" {
		m["detail"] = p.Detail
	}
	if len(p.Errors) > 0 {
		m["errors"] = p.Errors
	}
	for k, v := range p.Extra {
		if _, taken := m[k]; !taken {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// ProblemFor maps an error to its problem and, for store outages, the
// Retry-After seconds (0 otherwise). Store failures from the client become
// store-unavailable; anything unknown is internal, and its text is not shown.
func ProblemFor(err error) (Problem, int) {
	var ae *apperr.Error
	retry := 0
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, upstash.ErrUnavailable):
		ae = &apperr.Error{Kind: apperr.StoreUnavailable, Detail: "the store cannot be reached; retry later", Err: err}
	default:
		ae = &apperr.Error{Kind: apperr.Internal, Detail: "an internal error occurred", Err: err}
	}
	k, ok := problems[ae.Kind]
	if !ok {
		k = problems[apperr.Internal]
	}
	if ae.Kind == apperr.StoreUnavailable {
		retry = int(math.Ceil(max(upstash.RetryAfter(err), upstash.RetryAfter(ae.Err)).Seconds()))
		retry = max(retry, 1)
	}
	return Problem{
		Type:   ProblemTypePrefix + k.slug,
		Title:  k.title,
		Status: k.status,
		Detail: ae.Detail,
		Errors: ae.Fields,
		Extra:  ae.Extra,
	}, retry
}

// WriteError answers err as problem+json, and logs it when it is the
// server's fault.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	p, retry := ProblemFor(err)
	if retry > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retry))
	}
	if p.Status >= 500 {
		observe.Logger(r.Context()).Error("request failed", "status", p.Status, "error", err)
	}
	body, merr := json.Marshal(p)
	if merr != nil {
		body = []byte(`{"type":"` + ProblemTypePrefix + `internal","title":"Internal error","status":500}`)
		p.Status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", ProblemContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}

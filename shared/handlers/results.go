package handlers

import (
	"bytes"
	"net/http"
	"time"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/metrics"
	"github.com/ai-rails/state-service/shared/results"
)

// resultRoutes serves the results routes of API.md.
type resultRoutes struct {
	svc results.Service
	now func() time.Time
}

func (h resultRoutes) routes() map[string]httpkit.HandlerFunc {
	return map[string]httpkit.HandlerFunc{"results.create": h.create, "results.list": h.list, "results.get": h.get}
}

// The media types POST /api/results takes.
var uploadTypes = map[string]bool{
	"application/json": true, "application/xml": true, "text/xml": true, "application/x-ndjson": true,
}

func (h resultRoutes) create(w http.ResponseWriter, r *http.Request) error {
	body, mediaType, err := httpkit.ReadBody(w, r, uploadTypes)
	if err != nil {
		return err
	}
	var in results.Input
	if mediaType == "application/json" {
		var b results.JSONBody
		if err = httpkit.Unmarshal(body, &b); err == nil {
			in, err = results.ParseJSON(b, h.now())
		}
		if err == nil {
			err = in.Check()
		}
	} else {
		in, err = results.ParseReport(mediaType == "application/x-ndjson", bytes.NewReader(body), r.URL.Query(), h.now())
	}
	if err != nil {
		return err
	}
	res, err := h.svc.Create(r.Context(), in)
	if err != nil {
		return err
	}
	metrics.Count(r.Context(), metrics.ResultsStored)
	w.Header().Set("Location", "/api/results/"+res.TestID)
	httpkit.WriteJSON(w, r, http.StatusCreated, res)
	return nil
}

func (h resultRoutes) get(w http.ResponseWriter, r *http.Request) error {
	id, err := keys.ParseTestID(r.PathValue("test_id"))
	if err != nil {
		return apperr.Invalid(apperr.Field("test_id", "must match %s", keys.TestIDPattern))
	}
	res, err := h.svc.Get(r.Context(), id)
	return answer(w, r, res, err)
}

func (h resultRoutes) list(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var errs apperr.Collector
	wf, err := keys.ParseWorkflowID(q.Get("workflow_id"))
	if err != nil {
		errs.Add("workflow_id", "is required, matching %s", keys.WorkflowIDPattern)
	}
	limit, cursor := httpkit.ListParams(q, &errs)
	if err := errs.Err(); err != nil {
		return err
	}
	page, err := h.svc.List(r.Context(), results.ListQuery{Workflow: wf, Limit: limit, Cursor: cursor})
	return answer(w, r, page, err)
}

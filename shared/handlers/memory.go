package handlers

import (
	"net/http"
	"net/url"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/failures"
	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/testhistory"
)

// memoryRoutes serves the failure memory: test histories, flaky tests,
// failure groups and similar failures.
type memoryRoutes struct {
	tests    testhistory.Service
	failures failures.Service
}

func (h memoryRoutes) routes() map[string]httpkit.HandlerFunc {
	return map[string]httpkit.HandlerFunc{
		"tests.history": h.history, "tests.flaky": h.flaky, "failures.list": h.groups, "failures.similar": h.similar,
	}
}

// opt reads an optional query parameter: nil when it is not there.
func opt(q url.Values, name string) *string {
	if !q.Has(name) {
		return nil
	}
	v := q.Get(name)
	return &v
}

func (h memoryRoutes) history(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var errs apperr.Collector
	hq := testhistory.HistoryQuery{Suite: failures.CheckSuite(&errs, opt(q, "test_suite")), Test: testhistory.CheckTest(&errs, opt(q, "test"))}
	hq.Limit, hq.Cursor = httpkit.ListParams(q, &errs)
	if err := errs.Err(); err != nil {
		return err
	}
	page, err := h.tests.History(r.Context(), hq)
	return answer(w, r, page, err)
}

func (h memoryRoutes) flaky(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var errs apperr.Collector
	fq := testhistory.FlakyQuery{Suite: failures.CheckSuite(&errs, opt(q, "test_suite")), Workflow: testhistory.CheckWorkflow(&errs, opt(q, "workflow_id"))}
	fq.Limit, fq.Cursor = httpkit.ListParams(q, &errs)
	if err := errs.Err(); err != nil {
		return err
	}
	page, err := h.tests.Flaky(r.Context(), fq)
	return answer(w, r, page, err)
}

func (h memoryRoutes) groups(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var errs apperr.Collector
	gq := failures.ParseGroupScope(&errs, opt(q, "workflow_id"), opt(q, "test_suite"))
	gq.Limit, gq.Cursor = httpkit.ListParams(q, &errs)
	if err := errs.Err(); err != nil {
		return err
	}
	page, err := h.failures.Groups(r.Context(), gq)
	return answer(w, r, page, err)
}

func (h memoryRoutes) similar(w http.ResponseWriter, r *http.Request) error {
	var b failures.SimilarBody
	if err := httpkit.DecodeJSON(w, r, &b); err != nil {
		return err
	}
	sq, err := failures.ParseSimilar(b)
	if err != nil {
		return err
	}
	list, err := h.failures.Similar(r.Context(), sq)
	return answer(w, r, list, err)
}

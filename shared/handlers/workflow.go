package handlers

import (
	"net/http"
	"strconv"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/metrics"
	"github.com/ai-rails/state-service/shared/workflow"
)

// workflows serves the workflow routes of API.md.
type workflows struct{ svc workflow.Service }

func (h workflows) routes() map[string]httpkit.HandlerFunc {
	return map[string]httpkit.HandlerFunc{
		"workflow.save": h.save, "workflow.list": h.list, "workflow.get": h.get,
		"workflow.patch": h.patch, "workflow.delete": h.delete, "workflow.history": h.history,
	}
}

// ETag is the entity tag of a workflow version.
func ETag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// condition reads If-Match or If-None-Match; allowNone is false where
// If-None-Match is not offered (PATCH).
func condition(r *http.Request, allowNone bool) (workflow.Condition, error) {
	return workflow.ParseCondition(r.Header.Get("If-Match"), r.Header.Get("If-None-Match"), allowNone)
}

func workflowID(r *http.Request) (keys.WorkflowID, error) {
	id, err := keys.ParseWorkflowID(r.PathValue("workflow_id"))
	if err != nil {
		return id, apperr.Invalid(apperr.Field("workflow_id", "must match %s", keys.WorkflowIDPattern))
	}
	return id, nil
}

func writeState(w http.ResponseWriter, r *http.Request, status int, st workflow.State) {
	w.Header().Set("ETag", ETag(st.Version))
	w.Header().Set("Location", "/api/workflow/state/"+st.WorkflowID)
	httpkit.WriteJSON(w, r, status, st)
}

func (h workflows) save(w http.ResponseWriter, r *http.Request) error {
	var body workflow.SaveBody
	if err := httpkit.DecodeJSON(w, r, &body); err != nil {
		return err
	}
	ch, err := workflow.ParseSave(body)
	if err == nil {
		ch.Cond, err = condition(r, true)
	}
	if err != nil {
		return err
	}
	st, created, err := h.svc.Save(r.Context(), ch)
	if err != nil {
		return err
	}
	status, counter := http.StatusOK, metrics.WorkflowUpdated
	if created {
		status, counter = http.StatusCreated, metrics.WorkflowCreated
	}
	metrics.Count(r.Context(), counter)
	writeState(w, r, status, st)
	return nil
}

func (h workflows) patch(w http.ResponseWriter, r *http.Request) error {
	id, err := workflowID(r)
	if err != nil {
		return err
	}
	var body workflow.PatchBody
	if err := httpkit.DecodeJSON(w, r, &body); err != nil {
		return err
	}
	ch, err := workflow.ParsePatch(id, body)
	if err == nil {
		ch.Cond, err = condition(r, false)
	}
	if err != nil {
		return err
	}
	st, err := h.svc.Patch(r.Context(), ch)
	if err != nil {
		return err
	}
	metrics.Count(r.Context(), metrics.WorkflowUpdated)
	writeState(w, r, http.StatusOK, st)
	return nil
}

func (h workflows) get(w http.ResponseWriter, r *http.Request) error {
	id, err := workflowID(r)
	if err != nil {
		return err
	}
	st, err := h.svc.Get(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", ETag(st.Version))
	httpkit.WriteJSON(w, r, http.StatusOK, st)
	return nil
}

func (h workflows) delete(w http.ResponseWriter, r *http.Request) error {
	id, err := workflowID(r)
	if err != nil {
		return err
	}
	if err := h.svc.Delete(r.Context(), id); err != nil {
		return err
	}
	metrics.Count(r.Context(), metrics.WorkflowDeleted)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h workflows) history(w http.ResponseWriter, r *http.Request) error {
	id, err := workflowID(r)
	if err != nil {
		return err
	}
	hist, err := h.svc.History(r.Context(), id)
	return answer(w, r, hist, err)
}

func (h workflows) list(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var errs apperr.Collector
	var status workflow.Status
	if v := q.Get("status"); q.Has("status") {
		if !workflow.Status(v).Valid() {
			errs.Add("status", "must be one of pending, in_progress, completed, failed")
		}
		status = workflow.Status(v)
	}
	limit, cursor := httpkit.ListParams(q, &errs)
	if err := errs.Err(); err != nil {
		return err
	}
	page, err := h.svc.List(r.Context(), workflow.ListQuery{Status: status, Limit: limit, Cursor: cursor})
	return answer(w, r, page, err)
}

package workflow

import (
	"net/http"

	"github.com/ai-rails/state-service/shared/api"
	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/metrics"
)

// Mount adds the workflow routes of API.md.
func Mount(rt *httpkit.Router, d api.Deps) {
	h := &handlers{store: NewStore(d.Store, d.Keys, d.Now)}
	api.Register(rt, map[string]httpkit.HandlerFunc{
		"workflow.save": h.save, "workflow.list": h.list, "workflow.get": h.get,
		"workflow.patch": h.patch, "workflow.delete": h.delete, "workflow.history": h.history,
	})
}

type handlers struct{ store *Store }

func pathID(r *http.Request) (keys.WorkflowID, error) {
	id, err := keys.ParseWorkflowID(r.PathValue("workflow_id"))
	if err != nil {
		return id, apperr.Invalid(apperr.Field("workflow_id", "must match %s", keys.WorkflowIDPattern))
	}
	return id, nil
}

func writeState(w http.ResponseWriter, r *http.Request, status int, st State) {
	w.Header().Set("ETag", ETag(st.Version))
	w.Header().Set("Location", "/api/workflow/state/"+st.WorkflowID)
	httpkit.WriteJSON(w, r, status, st)
}

func (h *handlers) save(w http.ResponseWriter, r *http.Request) error {
	var body saveBody
	if err := httpkit.DecodeJSON(w, r, &body); err != nil {
		return err
	}
	ch, err := ParseSave(body)
	if err == nil {
		ch.Cond, err = ParseCondition(r.Header, true)
	}
	if err != nil {
		return err
	}
	st, created, err := h.store.Save(r.Context(), ch)
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

func (h *handlers) patch(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var body patchBody
	if err := httpkit.DecodeJSON(w, r, &body); err != nil {
		return err
	}
	ch, err := ParsePatch(id, body)
	if err == nil {
		ch.Cond, err = ParseCondition(r.Header, false)
	}
	if err != nil {
		return err
	}
	st, err := h.store.Patch(r.Context(), ch)
	if err != nil {
		return err
	}
	metrics.Count(r.Context(), metrics.WorkflowUpdated)
	writeState(w, r, http.StatusOK, st)
	return nil
}

func (h *handlers) get(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	st, err := h.store.Get(r.Context(), id)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", ETag(st.Version))
	httpkit.WriteJSON(w, r, http.StatusOK, st)
	return nil
}

func (h *handlers) delete(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if err := h.store.Delete(r.Context(), id); err != nil {
		return err
	}
	metrics.Count(r.Context(), metrics.WorkflowDeleted)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handlers) history(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	hist, err := h.store.History(r.Context(), id)
	if err != nil {
		return err
	}
	httpkit.WriteJSON(w, r, http.StatusOK, hist)
	return nil
}

func (h *handlers) list(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var errs apperr.Collector
	var status Status
	if v := q.Get("status"); q.Has("status") {
		if !Status(v).Valid() {
			errs.Add("status", "must be one of pending, in_progress, completed, failed")
		}
		status = Status(v)
	}
	limit, cursor := httpkit.ListParams(q, &errs)
	if err := errs.Err(); err != nil {
		return err
	}
	var after *Cursor
	if cursor != "" {
		c, err := ParseCursor(cursor)
		if err != nil {
			return err
		}
		after = &c
	}
	page, err := h.store.List(r.Context(), status, limit, after)
	if err != nil {
		return err
	}
	httpkit.WriteJSON(w, r, http.StatusOK, page)
	return nil
}

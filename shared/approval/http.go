package approval

import (
	"github.com/ai-rails/state-service/shared/idempotency"
	"net/http"

	"github.com/ai-rails/state-service/shared/api"
	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/httpapi"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/listing"
	"github.com/ai-rails/state-service/shared/metrics"
)

// Mount adds the approval routes of API.md.
func Mount(rt *httpapi.Router, d api.Deps) {
	h := &handlers{
		store: NewStore(d.Store, d.Keys, Config{Retention: d.Approvals.Retention, Deliverer: d.Approvals.Deliverer, Now: d.Now, Logger: d.Logger}),
		deps:  d,
	}
	rt.HandleFunc("POST /api/approval", h.create)
	rt.HandleFunc("GET /api/approval", h.list)
	rt.HandleFunc("GET /api/approval/{approval_id}", h.get)
	rt.HandleFunc("POST /api/approval/{approval_id}/decision", h.decide)
	rt.HandleFunc("GET /api/approval/{approval_id}/audit", h.audit)
}

type handlers struct {
	store *Store
	deps  api.Deps
}

func pathID(r *http.Request) (keys.ApprovalID, error) {
	id, err := keys.ParseApprovalID(r.PathValue("approval_id"))
	if err != nil {
		return id, apperr.Invalid(apperr.Field("approval_id", "must be a lowercase UUID version 4"))
	}
	return id, nil
}

func (h *handlers) create(w http.ResponseWriter, r *http.Request) {
	var b createBody
	if err := httpapi.DecodeJSON(w, r, &b); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	req, err := ParseCreate(r.Context(), b, h.deps.Approvals.Guard)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	idempotency.Describe(r.Context(), req)
	a, err := h.store.Create(r.Context(), req)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if !idempotency.Replayed(r.Context()) {
		metrics.Count(r.Context(), metrics.ApprovalCreated)
	}
	w.Header().Set("Location", "/api/approval/"+a.ApprovalID)
	httpapi.WriteJSON(w, r, http.StatusCreated, a)
}

func (h *handlers) get(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	a, err := h.store.Get(r.Context(), id)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, r, http.StatusOK, a)
}

func (h *handlers) decide(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	var b decideBody
	if err := httpapi.DecodeJSON(w, r, &b); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	req, err := ParseDecide(b)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	a, err := h.store.Decide(r.Context(), id, req, h.deps.Approvals.AllowSelfApproval)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	metrics.Count(r.Context(), metrics.ApprovalDecided)
	httpapi.WriteJSON(w, r, http.StatusOK, a)
}

func (h *handlers) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var errs apperr.Collector
	var wf *keys.WorkflowID
	if q.Has("workflow_id") {
		id, err := keys.ParseWorkflowID(q.Get("workflow_id"))
		if err != nil {
			errs.Add("workflow_id", "must match %s", keys.WorkflowIDPattern)
		}
		wf = &id
	}
	var status Status
	if q.Has("status") {
		status = Status(q.Get("status"))
		if !status.Valid() {
			errs.Add("status", "must be one of pending, approved, rejected, expired")
		}
	}
	limit, cursor := httpapi.ListParams(q, &errs)
	if err := errs.Err(); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	var after *listing.Cursor
	if cursor != "" {
		c, err := ParseCursor(cursor)
		if err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
		after = c
	}
	page, err := h.store.List(r.Context(), wf, status, limit, after)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, r, http.StatusOK, page)
}

func (h *handlers) audit(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	a, err := h.store.Audit(r.Context(), id)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	httpapi.WriteJSON(w, r, http.StatusOK, a)
}

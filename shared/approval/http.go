package approval

import (
	"github.com/ai-rails/state-service/shared/idempotency"
	"net/http"

	"github.com/ai-rails/state-service/shared/api"
	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/metrics"
	"github.com/ai-rails/state-service/shared/storekit"
)

// Mount adds the approval routes of API.md.
func Mount(rt *httpkit.Router, d api.Deps) {
	st := NewStore(d.Store, d.Keys, Config{Retention: d.Approvals.Retention, Now: d.Now})
	h := &handlers{store: NewService(st, d.Approvals.Deliverer, d.Logger), deps: d}
	api.Register(rt, map[string]httpkit.HandlerFunc{
		"approval.create": h.create, "approval.list": h.list, "approval.get": h.get,
		"approval.decide": h.decide, "approval.audit": h.audit,
	})
}

type handlers struct {
	store *Service
	deps  api.Deps
}

func pathID(r *http.Request) (keys.ApprovalID, error) {
	id, err := keys.ParseApprovalID(r.PathValue("approval_id"))
	if err != nil {
		return id, apperr.Invalid(apperr.Field("approval_id", "must be a lowercase UUID version 4"))
	}
	return id, nil
}

func (h *handlers) create(w http.ResponseWriter, r *http.Request) error {
	var b createBody
	if err := httpkit.DecodeJSON(w, r, &b); err != nil {
		return err
	}
	req, err := ParseCreate(r.Context(), b, h.deps.Approvals.Guard)
	if err != nil {
		return err
	}
	idempotency.Describe(r.Context(), req)
	a, err := h.store.Create(r.Context(), req)
	if err != nil {
		return err
	}
	if !idempotency.Replayed(r.Context()) {
		metrics.Count(r.Context(), metrics.ApprovalCreated)
	}
	w.Header().Set("Location", "/api/approval/"+a.ApprovalID)
	httpkit.WriteJSON(w, r, http.StatusCreated, a)
	return nil
}

func (h *handlers) get(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	a, err := h.store.Get(r.Context(), id)
	if err != nil {
		return err
	}
	httpkit.WriteJSON(w, r, http.StatusOK, a)
	return nil
}

func (h *handlers) decide(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var b decideBody
	if err := httpkit.DecodeJSON(w, r, &b); err != nil {
		return err
	}
	req, err := ParseDecide(b)
	if err != nil {
		return err
	}
	a, err := h.store.Decide(r.Context(), id, req, h.deps.Approvals.AllowSelfApproval)
	if err != nil {
		return err
	}
	metrics.Count(r.Context(), metrics.ApprovalDecided)
	httpkit.WriteJSON(w, r, http.StatusOK, a)
	return nil
}

func (h *handlers) list(w http.ResponseWriter, r *http.Request) error {
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
	limit, cursor := httpkit.ListParams(q, &errs)
	if err := errs.Err(); err != nil {
		return err
	}
	var after *storekit.Cursor
	if cursor != "" {
		c, err := ParseCursor(cursor)
		if err != nil {
			return err
		}
		after = c
	}
	page, err := h.store.List(r.Context(), wf, status, limit, after)
	if err != nil {
		return err
	}
	httpkit.WriteJSON(w, r, http.StatusOK, page)
	return nil
}

func (h *handlers) audit(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	a, err := h.store.Audit(r.Context(), id)
	if err != nil {
		return err
	}
	httpkit.WriteJSON(w, r, http.StatusOK, a)
	return nil
}

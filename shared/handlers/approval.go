package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/ai-rails/state-service/shared/access"
	"github.com/ai-rails/state-service/shared/approval"
	"github.com/ai-rails/state-service/shared/idempotency"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/metrics"
)

// approvals serves the approval routes of API.md.
type approvals struct{ svc *approval.Service }

func (h approvals) routes() map[string]httpkit.HandlerFunc {
	return map[string]httpkit.HandlerFunc{
		"approval.create": h.create, "approval.list": h.list, "approval.get": h.get,
		"approval.decide": h.decide, "approval.audit": h.audit,
	}
}

func approvalID(r *http.Request) (keys.ApprovalID, error) {
	id, err := keys.ParseApprovalID(r.PathValue("approval_id"))
	if err != nil {
		return id, apperr.Invalid(apperr.Field("approval_id", "must be a lowercase UUID version 4"))
	}
	return id, nil
}

func (h approvals) create(w http.ResponseWriter, r *http.Request) error {
	var b approval.CreateBody
	if err := httpkit.DecodeJSON(w, r, &b); err != nil {
		return err
	}
	req, err := h.svc.ParseCreate(r.Context(), b)
	if err != nil {
		return err
	}
	idempotency.Describe(r.Context(), req)
	a, err := h.svc.Create(r.Context(), req)
	if err != nil {
		return err
	}
	if !idempotency.Replayed(r.Context()) {
		metrics.Count(r.Context(), metrics.ApprovalCreated)
	}
	w.Header().Set("Location", "/api/approval/"+a.ApprovalID)
	// An approval with approvers answers each one's link, here and in a
	// replay of this answer, and never on GET: a link is a decision, so
	// only to a client with the scope decide. Others' links go only to the
	// notification endpoint.
	var links map[string]string
	if access.Check(r.Context(), access.Decide) == nil {
		links = h.svc.Links(a)
	}
	httpkit.WriteJSON(w, r, http.StatusCreated, struct {
		approval.Approval
		Links map[string]string `json:"links,omitzero"`
	}{a, links})
	return nil
}

// get answers an approval; with ?wait=N (1 to 25 seconds), as soon as it
// is final, or after N seconds with it pending and Retry-After.
func (h approvals) get(w http.ResponseWriter, r *http.Request) error {
	id, err := approvalID(r)
	if err != nil {
		return err
	}
	wait, err := waitParam(r)
	if err != nil {
		return err
	}
	if wait == 0 {
		a, err := h.svc.Get(r.Context(), id)
		return answer(w, r, a, err)
	}
	a, final, err := h.svc.Wait(r.Context(), id, wait)
	if err != nil {
		return err
	}
	if !final {
		w.Header().Set("Retry-After", strconv.Itoa(int(approval.PollAfter/time.Second)))
	}
	httpkit.WriteJSON(w, r, http.StatusOK, a)
	return nil
}

// waitParam reads ?wait: 0 when absent, else 1 to 25 seconds.
func waitParam(r *http.Request) (time.Duration, error) {
	q := r.URL.Query()
	if !q.Has("wait") {
		return 0, nil
	}
	n, err := strconv.Atoi(q.Get("wait"))
	if err != nil {
		n = 0 // out of range too
	}
	var errs apperr.Collector
	d := approval.CheckWait(&errs, "wait", n)
	return d, errs.Err()
}

func (h approvals) decide(w http.ResponseWriter, r *http.Request) error {
	id, err := approvalID(r)
	if err != nil {
		return err
	}
	var b approval.DecideBody
	if err := httpkit.DecodeJSON(w, r, &b); err != nil {
		return err
	}
	req, err := approval.ParseDecide(b)
	if err != nil {
		return err
	}
	a, err := h.svc.Decide(r.Context(), id, req)
	if err != nil {
		return err
	}
	metrics.Count(r.Context(), metrics.ApprovalDecided)
	httpkit.WriteJSON(w, r, http.StatusOK, a)
	return nil
}

func (h approvals) list(w http.ResponseWriter, r *http.Request) error {
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
	var status approval.Status
	if q.Has("status") {
		status = approval.Status(q.Get("status"))
		if !status.Valid() {
			errs.Add("status", "must be one of pending, approved, rejected, expired")
		}
	}
	limit, cursor := httpkit.ListParams(q, &errs)
	if err := errs.Err(); err != nil {
		return err
	}
	page, err := h.svc.List(r.Context(), approval.ListQuery{Workflow: wf, Status: status, Limit: limit, Cursor: cursor})
	return answer(w, r, page, err)
}

func (h approvals) audit(w http.ResponseWriter, r *http.Request) error {
	id, err := approvalID(r)
	if err != nil {
		return err
	}
	a, err := h.svc.Audit(r.Context(), id)
	return answer(w, r, a, err)
}

package handlers_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/servicetest"
)

// A document damaged in the store (written by hand, or by another program
// under the prefix) answers a plain 500 problem that names nothing of it,
// rather than a half-read answer; the store is left as it was.
func TestDamagedDocumentsAnswer500(t *testing.T) {
	servicetest.ForEachBackend(t, func(t *testing.T, e *servicetest.Env) {
		ctx := context.Background()
		wid, _ := keys.ParseWorkflowID("ABC-123456")
		aid := keys.NewApprovalID()
		tid, _ := keys.ParseTestID("run-1")
		const damaged = `{"workflow_id": SECRET-LOOKING`
		for _, cmd := range [][]any{
			{"SET", e.Keys.Workflow(wid), damaged},
			{"ZADD", e.Keys.WorkflowIndex(), 1, wid.String()},
			{"RPUSH", e.Keys.History(wid), damaged},
			{"SET", e.Keys.Approval(aid), damaged},
			{"ZADD", e.Keys.ApprovalIndex(), 1, aid.String()},
			{"RPUSH", e.Keys.Audit(aid), damaged},
			{"SET", e.Keys.TestResult(tid), damaged},
			{"ZADD", e.Keys.WorkflowResults(wid), 1, tid.String()},
		} {
			_, err := e.Client.Do(ctx, cmd...)
			require.NoError(t, err)
		}
		before := e.Snapshot()
		for _, path := range []string{
			"/api/workflow/state/" + wid.String(), "/api/workflow/state", "/api/workflow/state/" + wid.String() + "/history",
			"/api/approval/" + aid.String(), "/api/approval", "/api/approval/" + aid.String() + "/audit",
			"/api/results/" + tid.String(), "/api/results?workflow_id=" + wid.String(),
		} {
			a := e.Do(servicetest.Req{Method: "GET", Path: path})
			assert.Equal(t, http.StatusInternalServerError, a.Status, "%s: %s", path, a.Raw)
			assert.Equal(t, "urn:ai-rails:problem:internal", a.Body["type"], path)
			assert.NotContains(t, string(a.Raw), "SECRET", path)
		}
		// Writes over a damaged document refuse too, and change nothing: a
		// decision, and a write whose stored time is text that is not a time.
		other, _ := keys.ParseWorkflowID("XYZ-000001")
		_, err := e.Client.Do(ctx, "SET", e.Keys.Workflow(other), `{"workflow_id":"XYZ-000001","status":"pending","feature_description":"x",`+
			`"current_stage":"","created_at":"then","last_updated":"then","ttl_hours":24,"version":1,"metadata":{}}`)
		require.NoError(t, err)
		before = e.Snapshot()
		for _, r := range []servicetest.Req{
			{Method: "POST", Path: "/api/approval/" + aid.String() + "/decision", Body: map[string]any{"decision": "approved", "approver": "alice"}},
			{Method: "PATCH", Path: "/api/workflow/state/" + other.String(), Body: map[string]any{"current_stage": "x"}},
		} {
			a := e.Do(r)
			assert.Equal(t, http.StatusInternalServerError, a.Status, "%s: %s", r.Path, a.Raw)
		}
		assert.Equal(t, before, e.Snapshot())
	})
}

package workflow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
	"github.com/ai-rails/state-service/shared/workflow"
)

const id = "ABC-123456"

type req = servicetest.Req

func create(t *testing.T, e *servicetest.Env, wid string, extra map[string]any) servicetest.Answer {
	t.Helper()
	body := map[string]any{"workflow_id": wid, "feature_description": "Add login"}
	for k, v := range extra {
		body[k] = v
	}
	a := e.Do(req{Method: "POST", Path: "/api/workflow/state", Body: body})
	require.Equal(t, http.StatusCreated, a.Status, "%s", a.Raw)
	return a
}

func problem(t *testing.T, a servicetest.Answer, status int, slug string) {
	t.Helper()
	require.Equal(t, status, a.Status, "%s", a.Raw)
	assert.Equal(t, "application/problem+json", a.Header.Get("Content-Type"))
	assert.Equal(t, "urn:ai-rails:problem:"+slug, a.Body["type"], "%s", a.Raw)
}

func TestCreateReadUpdate(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		a := create(t, e, id, map[string]any{"metadata": map[string]any{"pr": 42, "labels": []any{"a", nil}, "empty": map[string]any{}}})
		assert.Equal(t, `"1"`, a.Header.Get("ETag"))
		assert.Equal(t, "/api/workflow/state/"+id, a.Header.Get("Location"))
		b := a.Body
		assert.Equal(t, id, b["workflow_id"])
		assert.Equal(t, "pending", b["status"])
		assert.Equal(t, "Add login", b["feature_description"])
		assert.Equal(t, "", b["current_stage"])
		assert.Equal(t, float64(24), b["ttl_hours"])
		assert.Equal(t, float64(1), b["version"])
		assert.Equal(t, "2026-11-26T10:00:00.000000000Z", b["created_at"])
		assert.Equal(t, "2026-11-26T10:00:00.000000000Z", b["last_updated"])
		assert.Equal(t, "2026-11-27T10:00:00.000000000Z", b["expires_at"])
		assert.Equal(t, map[string]any{"pr": float64(42), "labels": []any{"a", nil}, "empty": map[string]any{}}, b["metadata"],
			"nulls in arrays and empty objects survive on every backend")

		g := e.Do(req{Method: "GET", Path: "/api/workflow/state/" + id})
		assert.Equal(t, http.StatusOK, g.Status)
		assert.Equal(t, `"1"`, g.Header.Get("ETag"))
		assert.Equal(t, "no-store", g.Header.Get("Cache-Control"))
		assert.Equal(t, b, g.Body)

		// An update keeps what it leaves out, replaces what it gives, and the
		// server-owned fields it sends are ignored.
		e.Clock.Advance(time.Minute)
		u := e.Do(req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{
			"workflow_id": id, "status": "in_progress", "current_stage": "write_tests", "metadata": map[string]any{"x": 1},
			"version": 99, "created_at": "1999-01-01T00:00:00Z", "ttl_hours": 48,
		}})
		require.Equal(t, http.StatusOK, u.Status, "%s", u.Raw)
		assert.Equal(t, `"2"`, u.Header.Get("ETag"))
		assert.Equal(t, "in_progress", u.Body["status"])
		assert.Equal(t, "Add login", u.Body["feature_description"])
		assert.Equal(t, "write_tests", u.Body["current_stage"])
		assert.Equal(t, map[string]any{"x": float64(1)}, u.Body["metadata"], "metadata is replaced whole")
		assert.Equal(t, float64(2), u.Body["version"])
		assert.Equal(t, b["created_at"], u.Body["created_at"])
		assert.Equal(t, "2026-11-26T10:01:00.000000000Z", u.Body["last_updated"])
		assert.Equal(t, "2026-11-28T10:01:00.000000000Z", u.Body["expires_at"])
	})
}

func TestLastUpdatedRisesWhenTheClockGoesBack(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		create(t, e, id, nil)
		e.Clock.Advance(-time.Hour)
		a := e.Do(req{Method: "PATCH", Path: "/api/workflow/state/" + id, Body: map[string]any{"current_stage": "x"}})
		require.Equal(t, http.StatusOK, a.Status)
		assert.Equal(t, "2026-11-26T10:00:00.000000001Z", a.Body["last_updated"])
		a = e.Do(req{Method: "PATCH", Path: "/api/workflow/state/" + id, Body: map[string]any{}})
		assert.Equal(t, "2026-11-26T10:00:00.000000002Z", a.Body["last_updated"])
		assert.Equal(t, float64(3), a.Body["version"])
	})
}

func TestMergePatch(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		create(t, e, id, map[string]any{"current_stage": "plan", "ttl_hours": 5,
			"metadata": map[string]any{"keep": 1, "drop": 2, "nested": map[string]any{"a": 1, "b": 2}}})
		a := e.Do(req{Method: "PATCH", Path: "/api/workflow/state/" + id,
			Header: map[string]string{"Content-Type": "application/merge-patch+json"},
			Body:   `{"status":"in_progress","metadata":{"drop":null,"new":"v","nested":{"b":null,"c":3}},"ttl_hours":null}`})
		require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
		assert.Equal(t, "in_progress", a.Body["status"])
		assert.Equal(t, "plan", a.Body["current_stage"], "left out, kept")
		assert.Equal(t, float64(24), a.Body["ttl_hours"], "null resets to the default")
		assert.Equal(t, map[string]any{"keep": float64(1), "new": "v", "nested": map[string]any{"a": float64(1), "c": float64(3)}}, a.Body["metadata"])
		assert.Equal(t, `"2"`, a.Header.Get("ETag"))

		a = e.Do(req{Method: "PATCH", Path: "/api/workflow/state/" + id, Body: `{"metadata":null,"current_stage":null}`})
		require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
		assert.Equal(t, map[string]any{}, a.Body["metadata"])
		assert.Equal(t, "", a.Body["current_stage"])
	})
}

func TestStatusTransitions(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		for i, from := range workflow.Statuses {
			for j, to := range workflow.Statuses {
				wid := fmt.Sprintf("TRN-%03d%03d", i, j)
				// Reach from along allowed changes.
				path := map[workflow.Status][]string{
					workflow.Pending: nil, workflow.InProgress: {"in_progress"},
					workflow.Completed: {"in_progress", "completed"}, workflow.Failed: {"failed"},
				}[from]
				create(t, e, wid, nil)
				for _, s := range path {
					a := e.Do(req{Method: "PATCH", Path: "/api/workflow/state/" + wid, Body: map[string]any{"status": s}})
					require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
				}
				before := e.Snapshot()
				a := e.Do(req{Method: "PATCH", Path: "/api/workflow/state/" + wid, Body: map[string]any{"status": to}})
				if workflow.CanChange(from, to) {
					assert.Equal(t, http.StatusOK, a.Status, "%s -> %s: %s", from, to, a.Raw)
					continue
				}
				problem(t, a, http.StatusConflict, "invalid-transition")
				for _, allowed := range workflow.Allowed(from) {
					assert.Contains(t, a.Body["detail"], string(allowed), "the detail names the allowed targets")
				}
				assert.Equal(t, before, e.Snapshot(), "%s -> %s wrote something", from, to)
			}
		}
	})
}

func TestPreconditions(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		// If-None-Match: * creates only.
		a := e.Do(req{Method: "POST", Path: "/api/workflow/state", Header: map[string]string{"If-None-Match": "*"},
			Body: map[string]any{"workflow_id": id, "feature_description": "x"}})
		require.Equal(t, http.StatusCreated, a.Status, "%s", a.Raw)
		before := e.Snapshot()
		a = e.Do(req{Method: "POST", Path: "/api/workflow/state", Header: map[string]string{"If-None-Match": "*"},
			Body: map[string]any{"workflow_id": id, "feature_description": "y"}})
		problem(t, a, http.StatusPreconditionFailed, "precondition-failed")
		assert.Equal(t, before, e.Snapshot())

		for _, tc := range []struct {
			method, ifMatch string
			status          int
		}{
			{"POST", `"2"`, 412}, {"PATCH", `"2"`, 412}, {"PATCH", `W/"1"`, 412},
			{"PATCH", `"7", "1"`, 200}, {"POST", `"2"`, 200}, {"PATCH", "*", 200},
		} {
			path, body := "/api/workflow/state/"+id, map[string]any{"current_stage": "s"}
			if tc.method == "POST" {
				path, body = "/api/workflow/state", map[string]any{"workflow_id": id, "current_stage": "s"}
			}
			before := e.Snapshot()
			a := e.Do(req{Method: tc.method, Path: path, Body: body, Header: map[string]string{"If-Match": tc.ifMatch}})
			if tc.status == 412 {
				problem(t, a, 412, "precondition-failed")
				assert.Equal(t, before, e.Snapshot(), "%s If-Match %s", tc.method, tc.ifMatch)
			} else {
				assert.Equal(t, tc.status, a.Status, "%s If-Match %s: %s", tc.method, tc.ifMatch, a.Raw)
			}
		}
		// If-Match on a workflow that does not exist fails, and creates nothing.
		a = e.Do(req{Method: "POST", Path: "/api/workflow/state", Header: map[string]string{"If-Match": "*"},
			Body: map[string]any{"workflow_id": "NEW-000001", "feature_description": "x"}})
		problem(t, a, 412, "precondition-failed")
		a = e.Do(req{Method: "GET", Path: "/api/workflow/state/NEW-000001"})
		problem(t, a, 404, "not-found")
	})
}

func TestBadInputWritesNothing(t *testing.T) {
	long := strings.Repeat("x", workflow.MaxFeatureDescription+1)
	big := map[string]any{"blob": strings.Repeat("y", workflow.MaxMetadataBytes)}
	deep := map[string]any{}
	cur := deep
	for range workflow.MaxMetadataDepth + 1 {
		next := map[string]any{}
		cur["d"] = next
		cur = next
	}
	cases := []struct {
		name   string
		r      req
		status int
		slug   string
		field  string
	}{
		{"no id", req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"feature_description": "x"}}, 400, "validation", "workflow_id"},
		{"bad id", req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": "abc-123456", "feature_description": "x"}}, 400, "validation", "workflow_id"},
		{"id as number", req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": 12, "feature_description": "x"}}, 400, "validation", "workflow_id"},
		{"create without description", req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": "NEW-000002"}}, 400, "validation", "feature_description"},
		{"empty description", req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": "NEW-000002", "feature_description": ""}}, 400, "validation", "feature_description"},
		{"long description", req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": "NEW-000002", "feature_description": long}}, 400, "validation", "feature_description"},
		{"long stage", req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": id, "current_stage": strings.Repeat("s", 257)}}, 400, "validation", "current_stage"},
		{"bad status", req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": id, "status": "done"}}, 400, "validation", "status"},
		{"null status", req{Method: "POST", Path: "/api/workflow/state", Body: `{"workflow_id":"ABC-123456","status":null}`}, 400, "validation", "status"},
		{"ttl 0", req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": id, "ttl_hours": 0}}, 400, "validation", "ttl_hours"},
		{"ttl 169", req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": id, "ttl_hours": 169}}, 400, "validation", "ttl_hours"},
		{"ttl 1.5", req{Method: "POST", Path: "/api/workflow/state", Body: `{"workflow_id":"ABC-123456","ttl_hours":1.5}`}, 400, "validation", "ttl_hours"},
		{"metadata array", req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": id, "metadata": []int{1}}}, 400, "validation", "metadata"},
		{"metadata too big", req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": id, "metadata": big}}, 400, "validation", "metadata"},
		{"metadata too deep", req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": id, "metadata": deep}}, 400, "validation", "metadata"},
		{"merged metadata too big", req{Method: "PATCH", Path: "/api/workflow/state/" + id, Body: map[string]any{"metadata": map[string]any{"blob": strings.Repeat("y", workflow.MaxMetadataBytes-20)}}}, 400, "validation", "metadata"},
		{"unknown field", req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": id, "colour": "red"}}, 400, "validation", "colour"},
		{"not JSON", req{Method: "POST", Path: "/api/workflow/state", Body: `{"workflow_id":`}, 400, "validation", ""},
		{"wrong content type", req{Method: "POST", Path: "/api/workflow/state", Body: `{}`, Header: map[string]string{"Content-Type": "text/plain"}}, 415, "unsupported-media-type", ""},
		{"too large", req{Method: "POST", Path: "/api/workflow/state", Body: `{"workflow_id":"` + strings.Repeat("x", 300<<10) + `"}`}, 413, "too-large", ""},
		{"description as number", req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": "NEW-000002", "feature_description": 7}}, 400, "validation", "feature_description"},
		{"stage as object", req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": id, "current_stage": map[string]any{}}}, 400, "validation", "current_stage"},
		{"both conditions", req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": id}, Header: map[string]string{"If-Match": `"1"`, "If-None-Match": "*"}}, 400, "validation", ""},
		{"weak tag only", req{Method: "PATCH", Path: "/api/workflow/state/" + id, Body: map[string]any{"current_stage": "x"}, Header: map[string]string{"If-Match": `W/"1"`}}, 412, "precondition-failed", ""},
		{"version 0", req{Method: "PATCH", Path: "/api/workflow/state/" + id, Body: map[string]any{}, Header: map[string]string{"If-Match": `"0"`}}, 400, "validation", ""},
		{"bad If-Match", req{Method: "PATCH", Path: "/api/workflow/state/" + id, Body: map[string]any{}, Header: map[string]string{"If-Match": "1"}}, 400, "validation", ""},
		{"patch null status", req{Method: "PATCH", Path: "/api/workflow/state/" + id, Body: `{"status":null}`}, 400, "validation", "status"},
		{"patch other id", req{Method: "PATCH", Path: "/api/workflow/state/" + id, Body: map[string]any{"workflow_id": "XYZ-000000"}}, 400, "validation", "workflow_id"},
		{"patch bad path id", req{Method: "PATCH", Path: "/api/workflow/state/bad", Body: map[string]any{}}, 400, "validation", "workflow_id"},
		{"patch unknown", req{Method: "PATCH", Path: "/api/workflow/state/NEW-000003", Body: map[string]any{"current_stage": "x"}}, 404, "not-found", ""},
		{"delete unknown", req{Method: "DELETE", Path: "/api/workflow/state/NEW-000003"}, 404, "not-found", ""},
		{"delete bad id", req{Method: "DELETE", Path: "/api/workflow/state/x"}, 400, "validation", "workflow_id"},
		{"bad list status", req{Method: "GET", Path: "/api/workflow/state?status=done"}, 400, "validation", "status"},
		{"bad limit", req{Method: "GET", Path: "/api/workflow/state?limit=201"}, 400, "validation", "limit"},
		{"zero limit", req{Method: "GET", Path: "/api/workflow/state?limit=0"}, 400, "validation", "limit"},
		{"bad cursor", req{Method: "GET", Path: "/api/workflow/state?cursor=bm9wZQ"}, 400, "validation", "cursor"},
		{"get unknown", req{Method: "GET", Path: "/api/workflow/state/NEW-000003"}, 404, "not-found", ""},
		{"history unknown", req{Method: "GET", Path: "/api/workflow/state/NEW-000003/history"}, 404, "not-found", ""},
		{"no key", req{Method: "GET", Path: "/api/workflow/state/" + id, Header: map[string]string{"x-api-key": ""}}, 403, "forbidden", ""},
		{"wrong method", req{Method: "PUT", Path: "/api/workflow/state/" + id, Body: `{}`}, 405, "method-not-allowed", ""},
	}
	each(t, func(t *testing.T, e *servicetest.Env) {
		create(t, e, id, map[string]any{"metadata": map[string]any{"seed": "x"}})
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := e.Snapshot()
				a := e.Do(tc.r)
				problem(t, a, tc.status, tc.slug)
				if tc.field != "" {
					errs, _ := a.Body["errors"].([]any)
					require.NotEmpty(t, errs, "%s", a.Raw)
					assert.Equal(t, tc.field, errs[0].(map[string]any)["field"])
				}
				assert.NotEmpty(t, a.Header.Get("X-Request-Id"))
				assert.Equal(t, before, e.Snapshot(), "a %d wrote to the store", tc.status)
			})
		}
	})
}

func TestDeleteAndHistory(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		create(t, e, id, map[string]any{"current_stage": "plan"})
		e.Clock.Advance(time.Second)
		e.Do(req{Method: "PATCH", Path: "/api/workflow/state/" + id, Body: map[string]any{"status": "in_progress", "current_stage": "write_tests"}})
		e.Clock.Advance(time.Second)
		d := e.Do(req{Method: "DELETE", Path: "/api/workflow/state/" + id})
		require.Equal(t, http.StatusNoContent, d.Status, "%s", d.Raw)
		assert.Empty(t, d.Raw)
		problem(t, e.Do(req{Method: "GET", Path: "/api/workflow/state/" + id}), 404, "not-found")

		h := e.Do(req{Method: "GET", Path: "/api/workflow/state/" + id + "/history"})
		require.Equal(t, http.StatusOK, h.Status, "%s", h.Raw)
		assert.Equal(t, id, h.Body["workflow_id"])
		events := h.Body["events"].([]any)
		require.Len(t, events, 3)
		want := []map[string]any{
			{"type": "created", "version": float64(1), "status_from": nil, "status_to": "pending", "stage": "plan", "at": "2026-11-26T10:00:00.000000000Z", "client": "default"},
			{"type": "updated", "version": float64(2), "status_from": "pending", "status_to": "in_progress", "stage": "write_tests", "at": "2026-11-26T10:00:01.000000000Z", "client": "default"},
			{"type": "deleted", "version": float64(2), "status_from": "in_progress", "status_to": nil, "stage": "write_tests", "at": "2026-11-26T10:00:02.000000000Z", "client": "default"},
		}
		for i, ev := range events {
			m := ev.(map[string]any)
			assert.NotEmpty(t, m["id"])
			delete(m, "id")
			assert.Equal(t, want[i], m, "event %d", i)
		}
		assert.Greater(t, e.PTTL(e.Keys.History(mustID(id))), 23*time.Hour, "the history outlives the state")

		// Re-creating starts again at version 1, and the history goes on.
		a := create(t, e, id, nil)
		assert.Equal(t, float64(1), a.Body["version"])
		h = e.Do(req{Method: "GET", Path: "/api/workflow/state/" + id + "/history"})
		assert.Len(t, h.Body["events"], 4)
	})
}

func TestStoreDownAnswers503(t *testing.T) {
	e := servicetest.New(t, upstashtest.Real(t))
	create(t, e, id, nil)
	e.Backend.Redis.Stop()
	for _, r := range []req{
		{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": id, "current_stage": "x"}},
		{Method: "GET", Path: "/api/workflow/state/" + id},
		{Method: "GET", Path: "/api/workflow/state"},
		{Method: "GET", Path: "/api/workflow/state/" + id + "/history"},
		{Method: "DELETE", Path: "/api/workflow/state/" + id},
	} {
		a := e.Do(r)
		problem(t, a, http.StatusServiceUnavailable, "store-unavailable")
		assert.NotEmpty(t, a.Header.Get("Retry-After"), "%s %s", r.Method, r.Path)
	}
	h := e.Do(req{Method: "GET", Path: "/api/health"})
	assert.Equal(t, http.StatusServiceUnavailable, h.Status)
}

// A history keeps its newest MaxHistory events, oldest first, with ids that
// go on counting up.
func TestHistoryKeepsTheNewestEvents(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		create(t, e, id, nil)
		st := e.Service.Services.Workflows
		extra := workflow.MaxHistory + 150
		for i := range extra {
			_, err := st.Patch(context.Background(), workflow.Change{ID: mustID(id), CurrentStage: json.RawMessage(fmt.Sprintf(`"s%d"`, i))})
			require.NoError(t, err)
		}
		h := e.Do(req{Method: "GET", Path: "/api/workflow/state/" + id + "/history"})
		require.Equal(t, http.StatusOK, h.Status)
		events := h.Body["events"].([]any)
		require.Len(t, events, workflow.MaxHistory)
		last := float64(extra + 1)
		assert.Equal(t, last-float64(workflow.MaxHistory)+1, events[0].(map[string]any)["version"], "the oldest kept")
		assert.Equal(t, last, events[len(events)-1].(map[string]any)["version"], "the newest last")
		assert.Equal(t, fmt.Sprint(extra+1), events[len(events)-1].(map[string]any)["id"])
		n, err := upstash.Int64(e.Client.Do(context.Background(), "LLEN", e.Keys.History(mustID(id))))
		require.NoError(t, err)
		assert.Equal(t, int64(workflow.MaxHistory), n, "trimmed")
	})
}

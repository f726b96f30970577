package workflow_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/jsondoc"
	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/upstash"
)

// The store keeps a workflow's times as integer nanoseconds, and not
// expires_at, which is last_updated plus ttl_hours; answers show RFC 3339.
func TestTimesAreStoredAsIntegers(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		create(t, e, id, map[string]any{"current_stage": "plan"})
		raw, err := upstash.String(e.Client.Do(context.Background(), "GET", e.Keys.Workflow(mustID(id))))
		require.NoError(t, err)
		var stored map[string]any
		require.NoError(t, json.Unmarshal([]byte(raw), &stored))
		ns := float64(servicetest.Start.UnixNano())
		assert.Equal(t, ns, stored["created_at"])
		assert.Equal(t, ns, stored["last_updated"])
		assert.NotContains(t, stored, "expires_at")
		// A new workflow's created event is not stored apart: the history
		// makes it from the document, and the first update stores it.
		n, err := e.Client.Do(context.Background(), "EXISTS", e.Keys.History(mustID(id)))
		require.NoError(t, err)
		assert.Equal(t, int64(0), n)
		hist := e.Do(req{Method: "GET", Path: "/api/workflow/state/" + id + "/history"})
		require.Equal(t, http.StatusOK, hist.Status, "%s", hist.Raw)
		require.Len(t, hist.Body["events"], 1)
		assert.Equal(t, jsondoc.FormatTime(servicetest.Start), hist.Body["events"].([]any)[0].(map[string]any)["at"])
		e.Clock.Advance(time.Second)
		patch := e.Do(req{Method: "PATCH", Path: "/api/workflow/state/" + id, Body: map[string]any{"current_stage": "test"}})
		require.Equal(t, http.StatusOK, patch.Status, "%s", patch.Raw)
		events, err := upstash.Strings(e.Client.Do(context.Background(), "LRANGE", e.Keys.History(mustID(id)), 0, -1))
		require.NoError(t, err)
		require.Len(t, events, 2)
		// Compact: id|at|type|version|from|to|client|stage.
		assert.Equal(t, "1|"+jsondoc.Nanos(servicetest.Start)+`|c|1||pending|default|"plan"`, events[0])
		assert.Equal(t, "2|"+jsondoc.Nanos(servicetest.Start.Add(time.Second))+`|u|2|pending|pending|default|"test"`, events[1])
	})
}

// A workflow stored before times were integers (RFC 3339 text) reads as it
// did, and updates to integers; when the clock is behind its text time, the
// write still lands 1 ns after it, and an Idempotency-Key replays that
// answer.
func TestWorkflowsStoredWithTextTimes(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		old := `{"workflow_id":"ABC-123456","status":"in_progress","feature_description":"Add login","current_stage":"plan",` +
			`"created_at":"2026-11-26T09:00:00.000000000Z","last_updated":"2026-11-26T10:30:00.000000000Z","ttl_hours":24,` +
			`"version":3,"expires_at":"2026-11-27T10:30:00.000000000Z","metadata":{}}`
		ctx := context.Background()
		_, err := e.Client.Do(ctx, "SET", e.Keys.Workflow(mustID(id)), old, "PX", (24 * time.Hour).Milliseconds())
		require.NoError(t, err)
		_, err = e.Client.Do(ctx, "ZADD", e.Keys.WorkflowIndex(), time.Date(2026, 11, 26, 10, 30, 0, 0, time.UTC).UnixMilli(), id)
		require.NoError(t, err)

		a := e.Do(req{Method: "GET", Path: "/api/workflow/state/" + id})
		require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
		assert.Equal(t, "2026-11-26T09:00:00.000000000Z", a.Body["created_at"])
		assert.Equal(t, "2026-11-26T10:30:00.000000000Z", a.Body["last_updated"])
		assert.Equal(t, "2026-11-27T10:30:00.000000000Z", a.Body["expires_at"])

		// The clock (10:00) is behind the stored 10:30.
		h := map[string]string{"Idempotency-Key": "legacy-1"}
		a = e.Do(req{Method: "PATCH", Path: "/api/workflow/state/" + id, Body: map[string]any{"current_stage": "test"}, Header: h})
		require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
		assert.Equal(t, "2026-11-26T10:30:00.000000001Z", a.Body["last_updated"])
		assert.Equal(t, "2026-11-26T09:00:00.000000000Z", a.Body["created_at"], "created_at is kept as stored")
		assert.Equal(t, float64(4), a.Body["version"])
		again := e.Do(req{Method: "PATCH", Path: "/api/workflow/state/" + id, Body: map[string]any{"current_stage": "test"}, Header: h})
		assert.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
		assert.Equal(t, a.Body, again.Body)

		// The next write compares integers.
		e.Clock.Advance(time.Hour)
		a = e.Do(req{Method: "PATCH", Path: "/api/workflow/state/" + id, Body: map[string]any{}})
		assert.Equal(t, "2026-11-26T11:00:00.000000000Z", a.Body["last_updated"])
		assert.Equal(t, float64(5), a.Body["version"])

		// The history holds the two updates, with their times.
		hist := e.Do(req{Method: "GET", Path: "/api/workflow/state/" + id + "/history"})
		require.Equal(t, http.StatusOK, hist.Status)
		events := hist.Body["events"].([]any)
		require.Len(t, events, 2)
		assert.Equal(t, "2026-11-26T10:30:00.000000001Z", events[0].(map[string]any)["at"])
		assert.Equal(t, "2026-11-26T11:00:00.000000000Z", events[1].(map[string]any)["at"])
	})
}

// A delete behind a workflow's text time lands 1 ns after it.
func TestDeleteBehindATextTime(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		old := `{"workflow_id":"ABC-123456","status":"pending","feature_description":"x","current_stage":"",` +
			`"created_at":"2026-11-26T10:30:00.000000000Z","last_updated":"2026-11-26T10:30:00.000000000Z","ttl_hours":24,` +
			`"version":1,"expires_at":"2026-11-27T10:30:00.000000000Z","metadata":{}}`
		_, err := e.Client.Do(context.Background(), "SET", e.Keys.Workflow(mustID(id)), old)
		require.NoError(t, err)
		require.Equal(t, http.StatusNoContent, e.Do(req{Method: "DELETE", Path: "/api/workflow/state/" + id}).Status)
		hist := e.Do(req{Method: "GET", Path: "/api/workflow/state/" + id + "/history"})
		require.Equal(t, http.StatusOK, hist.Status, "%s", hist.Raw)
		events := hist.Body["events"].([]any)
		require.Len(t, events, 2, "the created event, made from the document at version 1, then the delete")
		assert.Equal(t, "created", events[0].(map[string]any)["type"])
		assert.Equal(t, "2026-11-26T10:30:00.000000000Z", events[0].(map[string]any)["at"])
		assert.Equal(t, "2026-11-26T10:30:00.000000001Z", events[1].(map[string]any)["at"])
	})
}

// A new workflow's created event, made from its document until the first
// update stores it, reads the same before and after.
func TestCreatedEventReadsTheSameOnceStored(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		create(t, e, id, map[string]any{"current_stage": "plan", "status": "in_progress"})
		before := e.Do(req{Method: "GET", Path: "/api/workflow/state/" + id + "/history"})
		require.Equal(t, http.StatusOK, before.Status, "%s", before.Raw)
		require.Len(t, before.Body["events"], 1)
		e.Clock.Advance(time.Minute)
		require.Equal(t, http.StatusOK, e.Do(req{Method: "PATCH", Path: "/api/workflow/state/" + id, Body: map[string]any{"current_stage": "test"}}).Status)
		after := e.Do(req{Method: "GET", Path: "/api/workflow/state/" + id + "/history"})
		events := after.Body["events"].([]any)
		require.Len(t, events, 2)
		assert.Equal(t, before.Body["events"].([]any)[0], events[0])
		assert.Equal(t, map[string]any{"id": "1", "at": jsondoc.FormatTime(servicetest.Start), "type": "created", "version": float64(1),
			"status_from": nil, "status_to": "in_progress", "stage": "plan", "client": "default"}, events[0])
		assert.Equal(t, "2", events[1].(map[string]any)["id"])
	})
}

// A history stored before events were compact (JSON events, id first)
// reads as it did, and goes on with compact ones, its ids counting on.
func TestHistoryOfJSONEventsGoesOn(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		create(t, e, id, map[string]any{"current_stage": "plan"})
		e.Clock.Advance(time.Second)
		require.Equal(t, http.StatusOK, e.Do(req{Method: "PATCH", Path: "/api/workflow/state/" + id, Body: map[string]any{"current_stage": "a|b"}}).Status)
		before := e.Do(req{Method: "GET", Path: "/api/workflow/state/" + id + "/history"})
		require.Len(t, before.Body["events"], 2)

		// The same two events as JSON, as an older version stored them:
		// {"id":"1","at":<ns>,"type":...}.
		ctx := context.Background()
		key := e.Keys.History(mustID(id))
		_, err := e.Client.Do(ctx, "DEL", key)
		require.NoError(t, err)
		for _, ev := range before.Body["events"].([]any) {
			m := ev.(map[string]any)
			at, err := time.Parse(time.RFC3339Nano, m["at"].(string))
			require.NoError(t, err)
			rest, err := json.Marshal(map[string]any{"type": m["type"], "version": m["version"], "status_from": m["status_from"],
				"status_to": m["status_to"], "stage": m["stage"], "client": m["client"]})
			require.NoError(t, err)
			raw := `{"id":"` + m["id"].(string) + `","at":` + jsondoc.Nanos(at) + `,` + string(rest[1:])
			_, err = e.Client.Do(ctx, "RPUSH", key, raw)
			require.NoError(t, err)
		}
		again := e.Do(req{Method: "GET", Path: "/api/workflow/state/" + id + "/history"})
		assert.Equal(t, before.Body, again.Body)

		e.Clock.Advance(time.Second)
		require.Equal(t, http.StatusOK, e.Do(req{Method: "PATCH", Path: "/api/workflow/state/" + id, Body: map[string]any{"status": "in_progress"}}).Status)
		after := e.Do(req{Method: "GET", Path: "/api/workflow/state/" + id + "/history"})
		events := after.Body["events"].([]any)
		require.Len(t, events, 3)
		assert.Equal(t, before.Body["events"], events[:2])
		assert.Equal(t, map[string]any{"id": "3", "at": jsondoc.FormatTime(servicetest.Start.Add(2 * time.Second)), "type": "updated",
			"version": float64(3), "status_from": "pending", "status_to": "in_progress", "stage": "a|b", "client": "default"}, events[2])
	})
}

// A compact history written before clients (id|at|type|version|from|to|
// stage) reads with a null client, and goes on with the client recorded.
func TestCompactEventsFromBeforeClients(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		create(t, e, id, map[string]any{"current_stage": "plan"})
		ctx := context.Background()
		key := e.Keys.History(mustID(id))
		_, err := e.Client.Do(ctx, "RPUSH", key, "1|"+jsondoc.Nanos(servicetest.Start)+`|c|1||pending|"a|b"`, "2|"+jsondoc.Nanos(servicetest.Start)+`|u|2|pending|pending|null`)
		require.NoError(t, err)
		e.Clock.Advance(time.Second)
		require.Equal(t, http.StatusOK, e.Do(req{Method: "PATCH", Path: "/api/workflow/state/" + id, Body: map[string]any{"current_stage": "c"}}).Status)
		events := e.Do(req{Method: "GET", Path: "/api/workflow/state/" + id + "/history"}).Body["events"].([]any)
		require.Len(t, events, 3)
		assert.Equal(t, "a|b", events[0].(map[string]any)["stage"])
		assert.Nil(t, events[0].(map[string]any)["client"])
		assert.Nil(t, events[1].(map[string]any)["stage"])
		assert.Nil(t, events[1].(map[string]any)["client"])
		assert.Equal(t, "default", events[2].(map[string]any)["client"])
	})
}

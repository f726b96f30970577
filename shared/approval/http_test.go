package approval_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/approval"
	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
	"github.com/ai-rails/state-service/shared/webhook"
	"github.com/ai-rails/state-service/shared/wiring"
)

type req = servicetest.Req

const wf = "ABC-123456"

func each(t *testing.T, fn func(t *testing.T, e *servicetest.Env)) {
	servicetest.ForEachBackend(t, func(t *testing.T, e *servicetest.Env) {
		a := e.Do(req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": wf, "feature_description": "x"}})
		require.Equal(t, http.StatusCreated, a.Status)
		fn(t, e)
	})
}

var problem = servicetest.Problem

func createBody(extra map[string]any) map[string]any {
	b := map[string]any{"workflow_id": wf, "request_type": "deploy", "content": "Deploy build 42 to prod", "requester": "ci-bot"}
	for k, v := range extra {
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
	}
	return b
}

func create(t *testing.T, e *servicetest.Env, extra map[string]any) map[string]any {
	t.Helper()
	a := e.Do(req{Method: "POST", Path: "/api/approval", Body: createBody(extra)})
	require.Equal(t, http.StatusCreated, a.Status, "%s", a.Raw)
	return a.Body
}

func id(t *testing.T, a map[string]any) keys.ApprovalID {
	t.Helper()
	aid, err := keys.ParseApprovalID(a["approval_id"].(string))
	require.NoError(t, err)
	return aid
}

func TestCreateAndRead(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		a := e.Do(req{Method: "POST", Path: "/api/approval", Body: createBody(map[string]any{"expires_in_seconds": 600})})
		require.Equal(t, http.StatusCreated, a.Status, "%s", a.Raw)
		aid := id(t, a.Body)
		assert.Equal(t, "/api/approval/"+aid.String(), a.Header.Get("Location"))
		assert.Equal(t, map[string]any{
			"approval_id": aid.String(), "workflow_id": wf, "request_type": "deploy", "content": "Deploy build 42 to prod",
			"requester": "ci-bot", "created_at": "2026-11-26T10:00:00.000000000Z", "expires_at": "2026-11-26T10:10:00.000000000Z",
			"status": "pending", "callback_url": nil, "on_timeout": "expired", "decision": nil,
		}, a.Body)
		assert.InDelta(t, (600*time.Second + approval.DefaultRetention).Seconds(), e.PTTL(e.Keys.Approval(aid)).Seconds(), 2)
		assert.InDelta(t, (600*time.Second + approval.DefaultRetention).Seconds(), e.PTTL(e.Keys.Audit(aid)).Seconds(), 2)
		score, err := e.Client.Do(context.Background(), "ZSCORE", e.Keys.PendingApprovals(), aid.String())
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprint(servicetest.Start.Add(10*time.Minute).UnixMilli()), score, "pending index by expires_at")

		g := e.Do(req{Method: "GET", Path: "/api/approval/" + aid.String()})
		assert.Equal(t, http.StatusOK, g.Status)
		assert.Equal(t, a.Body, g.Body)

		// Past expires_at it reads as expired at once, with no sweeper.
		e.Clock.Advance(10 * time.Minute)
		g = e.Do(req{Method: "GET", Path: "/api/approval/" + aid.String()})
		assert.Equal(t, "expired", g.Body["status"])

		au := e.Do(req{Method: "GET", Path: "/api/approval/" + aid.String() + "/audit"})
		require.Equal(t, http.StatusOK, au.Status, "%s", au.Raw)
		events := au.Body["events"].([]any)
		require.Len(t, events, 1)
		ev := events[0].(map[string]any)
		assert.Equal(t, "created", ev["type"])
		assert.Equal(t, "ci-bot", ev["actor"])
		assert.Equal(t, map[string]any{"request_type": "deploy", "expires_at": "2026-11-26T10:10:00.000000000Z"}, ev["detail"])
	})
}

func TestCreateRefusals(t *testing.T) {
	long := strings.Repeat("c", approval.MaxContent+1)
	cases := []struct {
		name   string
		r      req
		status int
		slug   string
		field  string
	}{
		{"unknown workflow", req{Method: "POST", Path: "/api/approval", Body: createBody(map[string]any{"workflow_id": "ZZZ-000000"})}, 404, "not-found", ""},
		{"bad workflow id", req{Method: "POST", Path: "/api/approval", Body: createBody(map[string]any{"workflow_id": "nope"})}, 400, "validation", "workflow_id"},
		{"no type", req{Method: "POST", Path: "/api/approval", Body: createBody(map[string]any{"request_type": nil})}, 400, "validation", "request_type"},
		{"bad type", req{Method: "POST", Path: "/api/approval", Body: createBody(map[string]any{"request_type": "merge"})}, 400, "validation", "request_type"},
		{"no content", req{Method: "POST", Path: "/api/approval", Body: createBody(map[string]any{"content": ""})}, 400, "validation", "content"},
		{"long content", req{Method: "POST", Path: "/api/approval", Body: createBody(map[string]any{"content": long})}, 400, "validation", "content"},
		{"no requester", req{Method: "POST", Path: "/api/approval", Body: createBody(map[string]any{"requester": nil})}, 400, "validation", "requester"},
		{"short expiry", req{Method: "POST", Path: "/api/approval", Body: createBody(map[string]any{"expires_in_seconds": 59})}, 400, "validation", "expires_in_seconds"},
		{"long expiry", req{Method: "POST", Path: "/api/approval", Body: createBody(map[string]any{"expires_in_seconds": 604801})}, 400, "validation", "expires_in_seconds"},
		{"http callback", req{Method: "POST", Path: "/api/approval", Body: createBody(map[string]any{"callback_url": "http://n8n.example.com/webhook"})}, 400, "validation", "callback_url"},
		{"metadata callback", req{Method: "POST", Path: "/api/approval", Body: createBody(map[string]any{"callback_url": "https://169.254.169.254/latest"})}, 400, "validation", "callback_url"},
		{"private callback", req{Method: "POST", Path: "/api/approval", Body: createBody(map[string]any{"callback_url": "https://10.0.0.8/hook"})}, 400, "validation", "callback_url"},
		{"decimal callback", req{Method: "POST", Path: "/api/approval", Body: createBody(map[string]any{"callback_url": "https://2130706433/hook"})}, 400, "validation", "callback_url"},
		{"unknown field", req{Method: "POST", Path: "/api/approval", Body: createBody(map[string]any{"priority": 1})}, 400, "validation", "priority"},
		{"bad idempotency key", req{Method: "POST", Path: "/api/approval", Body: createBody(nil), Header: map[string]string{"Idempotency-Key": strings.Repeat("k", 129)}}, 400, "validation", "Idempotency-Key"},
		{"get bad id", req{Method: "GET", Path: "/api/approval/not-a-uuid"}, 400, "validation", "approval_id"},
		{"get unknown", req{Method: "GET", Path: "/api/approval/3f0c6a8e-5b7d-4c1e-9a2b-1d2e3f4a5b6c"}, 404, "not-found", ""},
		{"audit unknown", req{Method: "GET", Path: "/api/approval/3f0c6a8e-5b7d-4c1e-9a2b-1d2e3f4a5b6c/audit"}, 404, "not-found", ""},
		{"decide unknown", req{Method: "POST", Path: "/api/approval/3f0c6a8e-5b7d-4c1e-9a2b-1d2e3f4a5b6c/decision", Body: map[string]any{"decision": "approved", "approver": "alice"}}, 404, "not-found", ""},
		{"list bad status", req{Method: "GET", Path: "/api/approval?status=maybe"}, 400, "validation", "status"},
		{"list bad workflow", req{Method: "GET", Path: "/api/approval?workflow_id=x"}, 400, "validation", "workflow_id"},
		{"list bad cursor", req{Method: "GET", Path: "/api/approval?cursor=abc"}, 400, "validation", "cursor"},
	}
	each(t, func(t *testing.T, e *servicetest.Env) {
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
				assert.Equal(t, before, e.Snapshot())
			})
		}
	})
}

// A path id that is not an approval id is refused on every route that takes
// one.
func TestBadApprovalIDs(t *testing.T) {
	e := servicetest.New(t, upstashtest.Mini(t))
	for _, r := range []req{
		{Method: "GET", Path: "/api/approval/nope"},
		{Method: "POST", Path: "/api/approval/nope/decision", Body: map[string]any{"decision": "approved", "approver": "alice"}},
		{Method: "GET", Path: "/api/approval/nope/audit"},
	} {
		a := e.Do(r)
		problem(t, a, http.StatusBadRequest, "validation")
		assert.Contains(t, string(a.Raw), "approval_id", r.Path)
	}
}

func TestIdempotentCreate(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		h := map[string]string{"Idempotency-Key": "n8n-exec-77"}
		first := e.Do(req{Method: "POST", Path: "/api/approval", Body: createBody(nil), Header: h})
		require.Equal(t, http.StatusCreated, first.Status)
		e.Clock.Advance(time.Minute)
		again := e.Do(req{Method: "POST", Path: "/api/approval", Header: h,
			Body: `{ "requester":"ci-bot", "content":"Deploy build 42 to prod", "request_type":"deploy", "workflow_id":"ABC-123456", "expires_in_seconds":3600 }`})
		require.Equal(t, http.StatusCreated, again.Status, "%s", again.Raw)
		assert.Equal(t, first.Body, again.Body, "the first answer, again")
		assert.Equal(t, first.Header.Get("Location"), again.Header.Get("Location"))

		before := e.Snapshot()
		other := e.Do(req{Method: "POST", Path: "/api/approval", Header: h, Body: createBody(map[string]any{"content": "something else"})})
		problem(t, other, http.StatusUnprocessableEntity, "unprocessable")
		assert.Equal(t, before, e.Snapshot())

		n, err := upstash.Int64(e.Client.Do(context.Background(), "ZCARD", e.Keys.ApprovalIndex()))
		require.NoError(t, err)
		assert.Equal(t, int64(1), n, "one approval for the key")
		third := e.Do(req{Method: "POST", Path: "/api/approval", Header: map[string]string{"Idempotency-Key": "other-key"}, Body: createBody(nil)})
		assert.NotEqual(t, first.Body["approval_id"], third.Body["approval_id"])
	})
}

func decide(e *servicetest.Env, aid keys.ApprovalID, body map[string]any) servicetest.Answer {
	return e.Do(req{Method: "POST", Path: "/api/approval/" + aid.String() + "/decision", Body: body})
}

func TestDecisionRules(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		aid := id(t, create(t, e, nil))
		e.Clock.Advance(time.Minute)
		a := decide(e, aid, map[string]any{"decision": "approved", "approver": "alice", "comment": "ship it"})
		require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
		assert.Equal(t, "approved", a.Body["status"])
		want := map[string]any{"decision": "approved", "approver": "alice", "comment": "ship it", "by": "approver", "decided_at": "2026-11-26T10:01:00.000000000Z"}
		assert.Equal(t, want, a.Body["decision"])
		assert.InDelta(t, approval.DefaultRetention.Seconds(), e.PTTL(e.Keys.Approval(aid)).Seconds(), 2, "kept for the retention period")
		assert.InDelta(t, approval.DefaultRetention.Seconds(), e.PTTL(e.Keys.Audit(aid)).Seconds(), 2)
		_, err := e.Client.Do(context.Background(), "ZSCORE", e.Keys.PendingApprovals(), aid.String())
		assert.ErrorIs(t, err, upstash.ErrNil, "it left the pending index")

		// The same decision by the same approver: 200, same decided_at.
		e.Clock.Advance(time.Minute)
		before := e.Snapshot()
		again := decide(e, aid, map[string]any{"decision": "approved", "approver": "alice"})
		assert.Equal(t, http.StatusOK, again.Status)
		assert.Equal(t, want, again.Body["decision"])
		assert.Equal(t, before, e.Snapshot())

		// Anything else: 409 with the current approval.
		for _, body := range []map[string]any{{"decision": "rejected", "approver": "alice"}, {"decision": "approved", "approver": "bob"}} {
			c := decide(e, aid, body)
			problem(t, c, http.StatusConflict, "conflict")
			assert.Equal(t, want, c.Body["approval"].(map[string]any)["decision"])
			assert.Equal(t, before, e.Snapshot())
		}

		// Expired: 410.
		exp := id(t, create(t, e, map[string]any{"expires_in_seconds": 60}))
		e.Clock.Advance(61 * time.Second)
		before = e.Snapshot()
		problem(t, decide(e, exp, map[string]any{"decision": "approved", "approver": "alice"}), http.StatusGone, "gone")
		assert.Equal(t, before, e.Snapshot())

		// The requester: 403.
		own := id(t, create(t, e, nil))
		problem(t, decide(e, own, map[string]any{"decision": "approved", "approver": "ci-bot"}), http.StatusForbidden, "forbidden")
		assert.Equal(t, "pending", e.Do(req{Method: "GET", Path: "/api/approval/" + own.String()}).Body["status"])

		for name, body := range map[string]map[string]any{
			"no decision": {"approver": "a"}, "bad decision": {"decision": "maybe", "approver": "a"},
			"no approver": {"decision": "approved"}, "long comment": {"decision": "approved", "approver": "a", "comment": strings.Repeat("c", 4097)},
			"unknown": {"decision": "approved", "approver": "a", "why": "x"},
		} {
			before := e.Snapshot()
			problem(t, decide(e, own, body), http.StatusBadRequest, "validation")
			assert.Equal(t, before, e.Snapshot(), name)
		}

		au := e.Do(req{Method: "GET", Path: "/api/approval/" + aid.String() + "/audit"})
		types := []string{}
		for _, ev := range au.Body["events"].([]any) {
			types = append(types, ev.(map[string]any)["type"].(string))
		}
		assert.Equal(t, []string{"created", "decided"}, types)
	})
}

func TestSelfApprovalWhenAllowed(t *testing.T) {
	servicetest.ForEachBackendWith(t, func(c *config.Config, _ *wiring.Options) { c.Approvals.AllowSelfApproval = true }, func(t *testing.T, e *servicetest.Env) {
		e.Do(req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": wf, "feature_description": "x"}})
		aid := id(t, create(t, e, nil))
		a := decide(e, aid, map[string]any{"decision": "rejected", "approver": "ci-bot"})
		assert.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
	})
}

func TestConcurrentDecisionsOneWins(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		aid := id(t, create(t, e, nil))
		codes := make(chan int, 50)
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := []string{"approved", "rejected"}[i%2]
				codes <- decide(e, aid, map[string]any{"decision": d, "approver": fmt.Sprintf("approver-%d", i)}).Status
			}()
		}
		wg.Wait()
		close(codes)
		count := map[int]int{}
		for c := range codes {
			count[c]++
		}
		assert.Equal(t, map[int]int{200: 1, 409: 49}, count)
		g := e.Do(req{Method: "GET", Path: "/api/approval/" + aid.String()})
		dec := g.Body["decision"].(map[string]any)
		assert.Equal(t, g.Body["status"], dec["decision"])
		au := e.Do(req{Method: "GET", Path: "/api/approval/" + aid.String() + "/audit"})
		decided := 0
		for _, ev := range au.Body["events"].([]any) {
			if ev.(map[string]any)["type"] == "decided" {
				decided++
				assert.Equal(t, dec["approver"], ev.(map[string]any)["actor"])
			}
		}
		assert.Equal(t, 1, decided)
	})
}

func TestListApprovals(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		e.Do(req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": "XYZ-000001", "feature_description": "x"}})
		var ids []string
		for i := range 5 {
			body := map[string]any{"expires_in_seconds": 60 + 600*i}
			if i == 4 {
				body["workflow_id"] = "XYZ-000001"
			}
			ids = append([]string{create(t, e, body)["approval_id"].(string)}, ids...)
			e.Clock.Advance(time.Millisecond)
		}
		aid, _ := keys.ParseApprovalID(ids[1])
		require.Equal(t, http.StatusOK, decide(e, aid, map[string]any{"decision": "approved", "approver": "alice"}).Status)
		e.Clock.Advance(2 * time.Minute) // the first one (60 s) expires

		page := func(q string) []string {
			var got []string
			cursor := ""
			for {
				path := "/api/approval?limit=2" + q
				if cursor != "" {
					path += "&cursor=" + cursor
				}
				a := e.Do(req{Method: "GET", Path: path})
				require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
				for _, it := range a.Body["items"].([]any) {
					got = append(got, it.(map[string]any)["approval_id"].(string))
				}
				if a.Body["next_cursor"] == nil {
					return got
				}
				cursor = a.Body["next_cursor"].(string)
			}
		}
		assert.Equal(t, ids, page(""))
		assert.Equal(t, ids[1:], page("&workflow_id="+wf))
		assert.Equal(t, []string{ids[0]}, page("&workflow_id=XYZ-000001"))
		assert.Equal(t, []string{ids[1]}, page("&status=approved"))
		assert.Equal(t, []string{ids[4]}, page("&status=expired"))
		assert.Equal(t, []string{ids[0], ids[2], ids[3]}, page("&status=pending"))
		assert.Empty(t, page("&workflow_id=QQQ-000000"))
	})
}

// hook is a webhook receiver that answers with the statuses given, in turn.
type hook struct {
	mu       sync.Mutex
	statuses []int
	delay    time.Duration
	reqs     []*http.Request
	bodies   [][]byte
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.reqs, h.bodies = append(h.reqs, r), append(h.bodies, body)
	status := http.StatusOK
	if len(h.statuses) > 0 {
		status = h.statuses[0]
		if len(h.statuses) > 1 {
			h.statuses = h.statuses[1:]
		}
	}
	h.mu.Unlock()
	if h.delay > 0 {
		select {
		case <-time.After(h.delay):
		case <-r.Context().Done():
		}
	}
	w.WriteHeader(status)
}

func auditTypes(t *testing.T, e *servicetest.Env, aid keys.ApprovalID) []string {
	t.Helper()
	au := e.Do(req{Method: "GET", Path: "/api/approval/" + aid.String() + "/audit"})
	var types []string
	for _, ev := range au.Body["events"].([]any) {
		types = append(types, ev.(map[string]any)["type"].(string))
	}
	return types
}

func outbox(t *testing.T, e *servicetest.Env) []string {
	t.Helper()
	v, err := upstash.Strings(e.Client.Do(context.Background(), "ZRANGE", e.Keys.Outbox(), 0, -1, "WITHSCORES"))
	require.NoError(t, err)
	return v
}

func TestWebhookDelivered(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		h := &hook{statuses: []int{409}}
		srv := httptest.NewServer(h)
		defer srv.Close()
		aid := id(t, create(t, e, map[string]any{"callback_url": srv.URL + "/webhook-waiting/42"}))
		a := decide(e, aid, map[string]any{"decision": "approved", "approver": "alice"})
		require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)

		require.Len(t, h.reqs, 1, "409 counts as delivered")
		r := h.reqs[0]
		assert.Equal(t, "/webhook-waiting/42", r.URL.Path)
		assert.Equal(t, approval.EventDecided, r.Header.Get(webhook.HeaderEvent))
		assert.Regexp(t, `^[0-9a-f-]{36}$`, r.Header.Get(webhook.HeaderDelivery))
		assert.True(t, webhook.Verify([]byte(servicetest.WebhookSecret), h.bodies[0], r.Header.Get(webhook.HeaderSignature)))
		var payload map[string]any
		require.NoError(t, json.Unmarshal(h.bodies[0], &payload))
		assert.Equal(t, "approval.decided", payload["event"])
		assert.Equal(t, aid.String(), payload["approval_id"])
		assert.Equal(t, "approved", payload["status"])
		assert.Equal(t, "alice", payload["decision"].(map[string]any)["approver"])

		assert.Equal(t, []string{"created", "decided", "webhook_delivered"}, auditTypes(t, e, aid))
		assert.Empty(t, outbox(t, e), "delivered: nothing waits")
	})
}

func TestWebhookRetriedThenQueued(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		h := &hook{statuses: []int{500}}
		srv := httptest.NewServer(h)
		defer srv.Close()
		aid := id(t, create(t, e, map[string]any{"callback_url": srv.URL + "/hook"}))
		a := decide(e, aid, map[string]any{"decision": "rejected", "approver": "alice", "comment": "not today"})
		require.Equal(t, http.StatusOK, a.Status, "a failing receiver does not fail the decision")
		require.Len(t, h.reqs, 3, "tried three times")
		ids := map[string]bool{}
		for _, r := range h.reqs {
			ids[r.Header.Get(webhook.HeaderDelivery)] = true
		}
		assert.Len(t, ids, 1, "one delivery id across retries")
		assert.Equal(t, []string{"created", "decided", "webhook_failed", "webhook_failed", "webhook_failed"}, auditTypes(t, e, aid))
		ob := outbox(t, e)
		require.Len(t, ob, 2)
		assert.Contains(t, ob[0], aid.String())
		assert.Contains(t, ob[0], "|approval.decided|")
		assert.Equal(t, fmt.Sprint(servicetest.Start.Add(approval.RetryDelay).UnixMilli()), ob[1], "next attempt in a minute")
	})
}

func TestSlowReceiverDoesNotHoldTheDecision(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		h := &hook{delay: 10 * time.Second}
		srv := httptest.NewServer(h)
		defer srv.Close()
		aid := id(t, create(t, e, map[string]any{"callback_url": srv.URL + "/hook"}))
		start := time.Now()
		a := decide(e, aid, map[string]any{"decision": "approved", "approver": "alice"})
		assert.Equal(t, http.StatusOK, a.Status)
		assert.Less(t, time.Since(start), 3*time.Second, "within the one-second budget, and some")
		assert.Len(t, outbox(t, e), 2, "waiting for the sweeper")
		srv.CloseClientConnections()
	})
}

// TestRoundTrips checks the store round trips of each approval route once
// the scripts are loaded: one each, and one more to record a webhook.
func TestRoundTrips(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		h := &hook{}
		srv := httptest.NewServer(h)
		defer srv.Close()
		warm := id(t, create(t, e, map[string]any{"callback_url": srv.URL}))
		decide(e, warm, map[string]any{"decision": "approved", "approver": "a"})
		e.Do(req{Method: "GET", Path: "/api/approval"})

		trips := func(r req) uint64 {
			before := e.Client.Stats().RoundTrips
			a := e.Do(r)
			require.Less(t, a.Status, 300, "%s %s: %s", r.Method, r.Path, a.Raw)
			return e.Client.Stats().RoundTrips - before
		}
		plain := id(t, create(t, e, nil))
		hooked := id(t, create(t, e, map[string]any{"callback_url": srv.URL}))
		assert.Equal(t, uint64(1), trips(req{Method: "POST", Path: "/api/approval", Body: createBody(nil)}))
		assert.Equal(t, uint64(1), trips(req{Method: "GET", Path: "/api/approval/" + plain.String()}))
		assert.Equal(t, uint64(1), trips(req{Method: "GET", Path: "/api/approval?status=pending"}))
		assert.Equal(t, uint64(1), trips(req{Method: "GET", Path: "/api/approval/" + plain.String() + "/audit"}))
		assert.Equal(t, uint64(1), trips(req{Method: "POST", Path: "/api/approval/" + plain.String() + "/decision", Body: map[string]any{"decision": "approved", "approver": "a"}}))
		assert.Equal(t, uint64(2), trips(req{Method: "POST", Path: "/api/approval/" + hooked.String() + "/decision", Body: map[string]any{"decision": "approved", "approver": "a"}}),
			"the decision, then the record of its webhook")
	})
}

// The requester cannot decide their own approval under another spelling of
// their name, and identities that hide white space or invisible characters
// are refused.
func TestSelfApprovalCannotBeDisguised(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		own := id(t, create(t, e, nil))
		for _, alias := range []string{"CI-BOT", "Ci-Bot", "ci\u2010bot", "ci\u2011bot", "ｃｉ－ｂｏｔ"} {
			problem(t, decide(e, own, map[string]any{"decision": "approved", "approver": alias}), http.StatusForbidden, "forbidden")
		}
		for _, bad := range []string{"ci-bot ", " ci-bot", "ci-bot\u200b", "ci\u200dbot", "ci-bot\t", "ci\x07bot"} {
			before := e.Snapshot()
			a := decide(e, own, map[string]any{"decision": "approved", "approver": bad})
			problem(t, a, http.StatusBadRequest, "validation")
			assert.Equal(t, before, e.Snapshot(), "%q wrote nothing", bad)
		}
		for _, bad := range []string{"bot ", "\u200bbot", "bo\u202et"} {
			problem(t, e.Do(req{Method: "POST", Path: "/api/approval", Body: createBody(map[string]any{"requester": bad})}), http.StatusBadRequest, "validation")
		}
		// Someone else still decides, and what was sent is what is stored.
		a := decide(e, own, map[string]any{"decision": "approved", "approver": "Ålice"})
		require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
		assert.Equal(t, "Ålice", a.Body["decision"].(map[string]any)["approver"])
		assert.Equal(t, "ci-bot", a.Body["requester"])
		assert.NotContains(t, string(a.Raw), "requester_key", "the canonical form is not answered")
	})
}

// A decision replayed under its Idempotency-Key answers the first answer
// and sends its webhook no second time.
func TestAReplayedDecisionSendsNoSecondWebhook(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		h := &hook{}
		srv := httptest.NewServer(h)
		defer srv.Close()
		aid := id(t, create(t, e, map[string]any{"callback_url": srv.URL + "/hook"}))
		r := req{Method: "POST", Path: "/api/approval/" + aid.String() + "/decision",
			Body: map[string]any{"decision": "approved", "approver": "alice"}, Header: map[string]string{"Idempotency-Key": "decide-1"}}
		first := e.Do(r)
		require.Equal(t, http.StatusOK, first.Status, "%s", first.Raw)
		again := e.Do(r)
		assert.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
		assert.Equal(t, first.Body, again.Body)
		assert.Len(t, h.reqs, 1, "one webhook")
		assert.Equal(t, []string{"created", "decided", "webhook_delivered"}, auditTypes(t, e, aid))
		assert.Empty(t, outbox(t, e))
	})
}

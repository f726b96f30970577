package sweep_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/approval"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/redisstore"
	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/sweep"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
	"github.com/ai-rails/state-service/shared/webhook"
)

type req = servicetest.Req

var ctx = context.Background()

// receiver records webhooks and answers with status.
type receiver struct {
	mu     sync.Mutex
	status int
	got    []*http.Request
	bodies [][]byte
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, q *http.Request) {
	b, _ := io.ReadAll(q.Body)
	r.mu.Lock()
	r.got, r.bodies = append(r.got, q), append(r.bodies, b)
	status := r.status
	r.mu.Unlock()
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
}

func newSweeper(e *servicetest.Env, emf io.Writer) *sweep.Sweeper {
	// The services as wired (package wiring), with EMF lines to emf.
	svc := e.Service
	return sweep.New(e.Client, e.Keys, svc.Approvals, svc.Services.Locks, nil, e.Clock.Now, nil, emf)
}

func each(t *testing.T, fn func(t *testing.T, e *servicetest.Env)) {
	servicetest.ForEachBackend(t, func(t *testing.T, e *servicetest.Env) {
		a := e.Do(req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": "ABC-123456", "feature_description": "x"}})
		require.Equal(t, http.StatusCreated, a.Status)
		fn(t, e)
	})
}

func createApproval(t *testing.T, e *servicetest.Env, secs int, callback string) string {
	t.Helper()
	body := map[string]any{"workflow_id": "ABC-123456", "request_type": "test", "content": "c", "requester": "bot", "expires_in_seconds": secs}
	if callback != "" {
		body["callback_url"] = callback
	}
	a := e.Do(req{Method: "POST", Path: "/api/approval", Body: body})
	require.Equal(t, http.StatusCreated, a.Status, "%s", a.Raw)
	return a.Body["approval_id"].(string)
}

func auditTypes(t *testing.T, e *servicetest.Env, id string) []string {
	t.Helper()
	a := e.Do(req{Method: "GET", Path: "/api/approval/" + id + "/audit"})
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
	var out []string
	for _, ev := range a.Body["events"].([]any) {
		out = append(out, ev.(map[string]any)["type"].(string))
	}
	return out
}

func TestExpireAndDeliver(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		rc := &receiver{}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		due := createApproval(t, e, 60, srv.URL+"/hook")
		decided := createApproval(t, e, 60, "")
		later := createApproval(t, e, 3600, "")
		// Decided a moment before it would have expired.
		e.Clock.Advance(59 * time.Second)
		d := e.Do(req{Method: "POST", Path: "/api/approval/" + decided + "/decision", Body: map[string]any{"decision": "approved", "approver": "alice"}})
		require.Equal(t, http.StatusOK, d.Status)

		e.Clock.Advance(2 * time.Second)
		var emf safeBuffer
		rep, err := newSweeper(e, &emf).Run(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, rep.Expired)
		assert.Equal(t, 1, rep.Webhooks.Delivered)

		g := e.Do(req{Method: "GET", Path: "/api/approval/" + due})
		assert.Equal(t, "expired", g.Body["status"])
		assert.Equal(t, []string{"created", "expired", "webhook_delivered"}, auditTypes(t, e, due))
		assert.Equal(t, "approved", e.Do(req{Method: "GET", Path: "/api/approval/" + decided}).Body["status"], "left alone")
		assert.Equal(t, []string{"created", "decided"}, auditTypes(t, e, decided))
		assert.Equal(t, "pending", e.Do(req{Method: "GET", Path: "/api/approval/" + later}).Body["status"])

		require.Len(t, rc.got, 1)
		assert.Equal(t, approval.EventExpired, rc.got[0].Header.Get(webhook.HeaderEvent))
		assert.True(t, webhook.Verify([]byte(servicetest.WebhookSecret), rc.bodies[0], rc.got[0].Header.Get(webhook.HeaderSignature)))
		var p map[string]any
		require.NoError(t, json.Unmarshal(rc.bodies[0], &p))
		assert.Equal(t, "approval.expired", p["event"])
		assert.Equal(t, "expired", p["status"])

		// A second run finds nothing to do.
		rep, err = newSweeper(e, nil).Run(ctx)
		require.NoError(t, err)
		assert.Zero(t, rep.Expired)
		assert.Zero(t, rep.Webhooks.Delivered)
		assert.Contains(t, emf.String(), `"ApprovalsExpired":1`)
	})
}

func TestRacingSweepersExpireOnce(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		var ids []string
		for range 30 {
			ids = append(ids, createApproval(t, e, 60, ""))
		}
		e.Clock.Advance(2 * time.Minute)
		var wg sync.WaitGroup
		totals := make([]int, 4)
		for i := range totals {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := newSweeper(e, nil)
				var rep sweep.Report
				var err error
				if i%2 == 0 {
					rep, err = s.Steps(ctx) // no lock: the scripts alone must hold
				} else {
					rep, err = s.Run(ctx)
				}
				assert.NoError(t, err)
				totals[i] = rep.Expired
			}()
		}
		wg.Wait()
		assert.Equal(t, 30, totals[0]+totals[1]+totals[2]+totals[3])
		for _, id := range ids {
			assert.Equal(t, []string{"created", "expired"}, auditTypes(t, e, id))
		}
	})
}

func TestOutboxRetriesThenGivesUp(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		rc := &receiver{status: http.StatusInternalServerError}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		id := createApproval(t, e, 3600, srv.URL)
		d := e.Do(req{Method: "POST", Path: "/api/approval/" + id + "/decision", Body: map[string]any{"decision": "rejected", "approver": "alice"}})
		require.Equal(t, http.StatusOK, d.Status)
		tries := len(rc.got)
		s := newSweeper(e, nil)

		rep, err := s.Run(ctx)
		require.NoError(t, err)
		assert.Zero(t, rep.Webhooks.Failed+rep.Webhooks.Delivered, "not due for a minute")

		e.Clock.Advance(approval.RetryDelay)
		rep, err = s.Run(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, rep.Webhooks.Failed)
		assert.Greater(t, len(rc.got), tries, "tried again")
		ids := map[string]bool{}
		for _, r := range rc.got {
			ids[r.Header.Get(webhook.HeaderDelivery)] = true
		}
		assert.Len(t, ids, 1, "the same delivery id every time")

		e.Clock.Advance(25 * time.Hour)
		rep, err = s.Run(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, rep.Webhooks.GaveUp)
		n, _ := upstash.Int64(e.Client.Do(ctx, "ZCARD", e.Keys.Outbox()))
		assert.Zero(t, n)
		types := auditTypes(t, e, id)
		assert.Equal(t, "webhook_failed", types[len(types)-1])
		au := e.Do(req{Method: "GET", Path: "/api/approval/" + id + "/audit"})
		last := au.Body["events"].([]any)[len(types)-1].(map[string]any)
		assert.Equal(t, "gave up after 24 hours", last["detail"].(map[string]any)["error"])

		// A delivery that succeeds on retry leaves the outbox.
		rc.mu.Lock()
		rc.status = http.StatusOK
		rc.mu.Unlock()
		id2 := createApproval(t, e, 3600, srv.URL)
		rc.mu.Lock()
		rc.status = http.StatusBadGateway
		rc.mu.Unlock()
		e.Do(req{Method: "POST", Path: "/api/approval/" + id2 + "/decision", Body: map[string]any{"decision": "approved", "approver": "bob"}})
		rc.mu.Lock()
		rc.status = http.StatusConflict
		rc.mu.Unlock()
		e.Clock.Advance(time.Minute)
		rep, err = s.Run(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, rep.Webhooks.Delivered)
		assert.Equal(t, "webhook_delivered", auditTypes(t, e, id2)[len(auditTypes(t, e, id2))-1])
	})
}

func TestPrune(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		e.Do(req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": "OLD-000001", "feature_description": "x", "status": "in_progress"}})
		a := createApproval(t, e, 60, "")
		r := e.Do(req{Method: "POST", Path: "/api/results", Body: map[string]any{"test_id": "r1", "workflow_id": "ABC-123456", "test_suite": "u",
			"passed": 1, "failed": 0, "skipped": 0, "duration_seconds": 1}})
		require.Equal(t, http.StatusCreated, r.Status)
		// Their keys expire (deleted here, as a TTL would).
		for _, k := range []string{"ai_rails_workflow_OLD-000001", "ai_rails_approval_" + a, "ai_rails_test_r1"} {
			_, err := e.Client.Do(ctx, "DEL", k)
			require.NoError(t, err)
		}
		_, err := e.Client.Do(ctx, "ZADD", e.Keys.WorkflowIndex(), 1, "not-an-id")
		require.NoError(t, err)
		rep, err := newSweeper(e, nil).Run(ctx)
		require.NoError(t, err)
		// workflow index, in_progress index, approval index, workflow's
		// approvals, pending index, results index, and the junk entry.
		assert.Equal(t, 7, rep.Pruned)
		for _, k := range []string{e.Keys.WorkflowIndex(), e.Keys.ApprovalIndex()} {
			m, _ := upstash.Strings(e.Client.Do(ctx, "ZRANGE", k, 0, -1))
			assert.NotContains(t, m, "OLD-000001")
			assert.NotContains(t, m, a)
			assert.NotContains(t, m, "not-an-id")
		}
		n, _ := upstash.Int64(e.Client.Do(ctx, "EXISTS", "ai_rails_index_results_ABC-123456"))
		assert.Zero(t, n, "an emptied index is gone")
		got := e.Do(req{Method: "GET", Path: "/api/workflow/state"})
		assert.Len(t, got.Body["items"], 1, "ABC-123456 stays")
		assert.Equal(t, fmt.Sprint(0), fmt.Sprint(rep.Expired))
	})
}

type safeBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.b)
}

func TestPruneAfterTTLs(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		e.Do(req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": "TTL-000001", "feature_description": "x", "ttl_hours": 1}})
		if !e.FastForward(61 * time.Minute) {
			t.Log("real Redis: TTLs run in real time; TestPrune covers it with deleted keys")
			return
		}
		e.Clock.Advance(61 * time.Minute)
		rep, err := newSweeper(e, nil).Run(ctx)
		require.NoError(t, err)
		assert.Equal(t, 2, rep.Pruned, "from the index of all and the pending status index")
		m, _ := upstash.Strings(e.Client.Do(ctx, "ZRANGE", e.Keys.WorkflowIndex(), 0, -1))
		assert.Equal(t, []string{"ABC-123456"}, m[:1], "ABC-123456's 24 h TTL has not run out")
	})
}

// No API client can stop the sweeper: whatever lock a client takes, even one
// named after it, a sweep still runs.
func TestClientLocksDoNotStopASweep(t *testing.T) {
	servicetest.ForEachBackend(t, func(t *testing.T, e *servicetest.Env) {
		for _, id := range []string{"sweeper", "service_lock_sweeper", "ai_rails_service_lock_sweeper", "lock_sweeper"} {
			a := e.Do(req{Method: "POST", Path: "/api/lock/" + id, Body: map[string]any{"owner": "mallory", "ttl_seconds": 300}})
			require.Equal(t, http.StatusCreated, a.Status, "%s: %s", id, a.Raw)
		}
		rep, err := newSweeper(e, nil).Run(ctx)
		require.NoError(t, err)
		assert.False(t, rep.Skipped, "the sweep ran")

		// Its own lock still keeps two runs apart.
		l, err := redisstore.NewLocks(e.Client, e.Keys, e.Clock.Now).Acquire(ctx, keys.SweeperLock, "other sweeper", time.Minute)
		require.NoError(t, err)
		rep, err = newSweeper(e, nil).Run(ctx)
		require.NoError(t, err)
		assert.True(t, rep.Skipped)
		require.NoError(t, redisstore.NewLocks(e.Client, e.Keys, e.Clock.Now).Release(ctx, keys.SweeperLock, l.Token))
	})
}

// A sweep over a store that is down reports the failure; it does not hang
// or report work it did not do.
func TestSweepReportsAStoreOutage(t *testing.T) {
	b := upstashtest.Real(t)
	e := servicetest.New(t, b)
	a := e.Do(req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": "ABC-123456", "feature_description": "x"}})
	require.Equal(t, http.StatusCreated, a.Status)
	createApproval(t, e, 60, "")
	e.Clock.Advance(2 * time.Minute)
	b.Redis.Stop()
	rep, err := newSweeper(e, nil).Run(ctx)
	assert.Error(t, err)
	assert.Zero(t, rep.Expired)
	_, err = newSweeper(e, nil).Steps(ctx)
	assert.Error(t, err)
	_, err = newSweeper(e, nil).Prune(ctx)
	assert.ErrorIs(t, err, upstash.ErrUnavailable)
}

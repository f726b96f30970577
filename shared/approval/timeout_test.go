package approval_test

import (
	"context"
	"encoding/json"
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
	"github.com/ai-rails/state-service/shared/redisstore"
	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/webhook"
	"github.com/ai-rails/state-service/shared/wiring"
)

// eachWith is each with NewWith's configure.
func eachWith(t *testing.T, configure func(*config.Config, *wiring.Options), fn func(t *testing.T, e *servicetest.Env)) {
	servicetest.ForEachBackendWith(t, configure, func(t *testing.T, e *servicetest.Env) {
		a := e.Do(req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": wf, "feature_description": "x"}})
		require.Equal(t, http.StatusCreated, a.Status)
		fn(t, e)
	})
}

// sweep runs the sweeper's steps once.
func sweep(t *testing.T, e *servicetest.Env) {
	t.Helper()
	_, err := e.Service.Sweeper.Steps(context.Background())
	require.NoError(t, err)
}

// events are the events a hook received, in order.
func (h *hook) events() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.reqs {
		out = append(out, r.Header.Get(webhook.HeaderEvent))
	}
	return out
}

// payload is the nth body the hook received, decoded.
func (h *hook) payload(t *testing.T, n int) map[string]any {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	var p map[string]any
	require.NoError(t, json.Unmarshal(h.bodies[n], &p))
	return p
}

func TestOnTimeoutOutcomes(t *testing.T) {
	allow := func(c *config.Config, _ *wiring.Options) { c.Approvals.AllowApproveOnTimeout = true }
	for _, outcome := range []string{"expired", "rejected", "approved"} {
		t.Run(outcome, func(t *testing.T) {
			eachWith(t, allow, func(t *testing.T, e *servicetest.Env) {
				h := &hook{}
				srv := httptest.NewServer(h)
				defer srv.Close()
				a := create(t, e, map[string]any{"expires_in_seconds": 60, "on_timeout": outcome, "callback_url": srv.URL + "/hook"})
				assert.Equal(t, outcome, a["on_timeout"])
				aid := id(t, a)

				e.Clock.Advance(60 * time.Second)
				got := e.Do(req{Method: "GET", Path: "/api/approval/" + aid.String()})
				require.Equal(t, http.StatusOK, got.Status)
				assert.Equal(t, outcome, got.Body["status"], "reads show the outcome at once, before any sweep")
				want := any(nil)
				if outcome != "expired" {
					want = map[string]any{"decision": outcome, "approver": nil, "by": "timeout", "decided_at": a["expires_at"]}
				}
				assert.Equal(t, want, got.Body["decision"])

				// A decision after the timeout: 409 with the approval when the
				// timeout decided it, 410 when it expired; nothing written.
				before := e.Snapshot()
				d := decide(e, aid, map[string]any{"decision": "approved", "approver": "alice"})
				if outcome == "expired" {
					problem(t, d, http.StatusGone, "gone")
				} else {
					problem(t, d, http.StatusConflict, "conflict")
					assert.Equal(t, want, d.Body["approval"].(map[string]any)["decision"])
					assert.Contains(t, d.Body["detail"], "by timeout")
				}
				assert.Equal(t, before, e.Snapshot())

				sweep(t, e)
				sweep(t, e)
				event := approval.EventDecided
				if outcome == "expired" {
					event = approval.EventExpired
				}
				assert.Equal(t, []string{event}, h.events(), "one webhook, however many sweeps")
				p := h.payload(t, 0)
				assert.Equal(t, outcome, p["status"])
				assert.Equal(t, want, p["decision"])
				assert.Nil(t, p["links"])

				au := e.Do(req{Method: "GET", Path: "/api/approval/" + aid.String() + "/audit"})
				evs := au.Body["events"].([]any)
				last := evs[1].(map[string]any)
				if outcome == "expired" {
					assert.Equal(t, "expired", last["type"])
					assert.Nil(t, last["actor"])
				} else {
					assert.Equal(t, "decided", last["type"])
					assert.Equal(t, "timeout", last["actor"])
				}
				stored := e.Do(req{Method: "GET", Path: "/api/approval/" + aid.String()})
				assert.Equal(t, got.Body, stored.Body, "the sweep stored what reads showed")
			})
		})
	}
}

func TestApproveOnTimeoutIsOffByDefault(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		before := e.Snapshot()
		a := e.Do(req{Method: "POST", Path: "/api/approval", Body: createBody(map[string]any{"on_timeout": "approved"})})
		problem(t, a, http.StatusBadRequest, "validation")
		assert.Contains(t, a.Body["detail"], "ALLOW_APPROVE_ON_TIMEOUT")
		assert.Equal(t, before, e.Snapshot())
		for _, ok := range []string{"expired", "rejected"} {
			create(t, e, map[string]any{"on_timeout": ok})
		}
	})
}

func TestReminderAndTimeoutRefusals(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		before := e.Snapshot()
		for _, extra := range []map[string]any{
			{"on_timeout": "later"},
			{"on_timeout": 1},
			{"remind_after_seconds": []int{}},
			{"remind_after_seconds": []int{60, 120, 180, 240}},
			{"remind_after_seconds": []int{60, 60}},
			{"remind_after_seconds": []int{0}},
			{"remind_after_seconds": []int{3600}, "expires_in_seconds": 3600},
			{"remind_after_seconds": "60"},
		} {
			a := e.Do(req{Method: "POST", Path: "/api/approval", Body: createBody(extra)})
			problem(t, a, http.StatusBadRequest, "validation")
		}
		assert.Equal(t, before, e.Snapshot(), "nothing written")
		a := create(t, e, map[string]any{"remind_after_seconds": []int{300, 60}, "expires_in_seconds": 600})
		assert.Equal(t, []any{60.0, 300.0}, a["remind_after_seconds"], "sorted")
		assert.Nil(t, a["reminders_sent"])
	})
}

// notified configures a notification endpoint: the hook's server, which
// forgets what it got each time a backend's API is built.
func notified(h *hook) (func(*config.Config, *wiring.Options), func()) {
	srv := httptest.NewServer(h)
	return func(c *config.Config, _ *wiring.Options) {
		h.mu.Lock()
		h.reqs, h.bodies = nil, nil
		h.mu.Unlock()
		c.Approvals.NotifyURL = srv.URL + "/notify"
	}, srv.Close
}

func TestRequestedGoesToTheNotificationEndpoint(t *testing.T) {
	n := &hook{}
	configure, done := notified(n)
	defer done()
	eachWith(t, configure, func(t *testing.T, e *servicetest.Env) {
		cb := &hook{}
		srv := httptest.NewServer(cb)
		defer srv.Close()
		a := e.Do(req{Method: "POST", Path: "/api/approval", Body: createBody(map[string]any{
			"approvers": []string{"alice", "bob"}, "callback_url": srv.URL + "/cb"})})
		require.Equal(t, http.StatusCreated, a.Status, "%s", a.Raw)
		aid := id(t, a.Body)

		require.Equal(t, []string{approval.EventRequested}, n.events(), "delivered at create")
		p := n.payload(t, 0)
		assert.Equal(t, "/notify", n.reqs[0].URL.Path)
		assert.True(t, webhook.Verify([]byte(servicetest.WebhookSecret), n.bodies[0], n.reqs[0].Header.Get(webhook.HeaderSignature)))
		assert.Equal(t, aid.String(), p["approval_id"])
		assert.Equal(t, a.Body["links"], p["links"], "each approver's link, as the REST answer has them")
		assert.Empty(t, cb.events(), "the callback gets no approval.requested, and no link")
		assert.Contains(t, auditTypes(t, e, aid), "webhook_delivered")
		assert.Empty(t, outbox(t, e))

		// An approval without approvers is not announced.
		create(t, e, nil)
		assert.Len(t, n.events(), 1)
	})
}

func TestRemindersAreSentOnce(t *testing.T) {
	n := &hook{}
	configure, done := notified(n)
	defer done()
	eachWith(t, configure, func(t *testing.T, e *servicetest.Env) {
		cb := &hook{}
		srv := httptest.NewServer(cb)
		defer srv.Close()
		a := create(t, e, map[string]any{"approvers": []string{"alice", "bob"}, "min_approvals": 2, "callback_url": srv.URL + "/cb",
			"remind_after_seconds": []int{60, 120, 180}, "expires_in_seconds": 600})
		aid := id(t, a)
		links := a["links"].(map[string]any)

		// Alice votes; then the first reminder falls due, and two sweeps
		// overlap (each under the sweeper's lock, as they run).
		tok := links["alice"].(string)[strings.LastIndex(links["alice"].(string), "/")+1:]
		_, _, err := e.Service.Approvals.OpenLink(context.Background(), tok)
		require.NoError(t, err)
		_, err = e.Service.Approvals.Vote(context.Background(), aid, 0, approval.VoteRequest{Decision: "approved"})
		require.NoError(t, err)
		e.Clock.Advance(61 * time.Second)
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { _, err := e.Service.Sweeper.Run(context.Background()); assert.NoError(t, err) })
		}
		wg.Wait()
		sweep(t, e)

		assert.Equal(t, []string{approval.EventReminder}, cb.events(), "one reminder to the callback")
		assert.Nil(t, cb.payload(t, 0)["links"], "never a link to the callback")
		assert.Equal(t, 1.0, cb.payload(t, 0)["reminders_sent"])
		require.Equal(t, []string{approval.EventRequested, approval.EventReminder}, n.events())
		assert.Equal(t, map[string]any{"bob": links["bob"]}, n.payload(t, 1)["links"], "only the approvers who have not voted")

		// A late sweep: the second and third are both due; only the last is sent.
		e.Clock.Advance(150 * time.Second)
		sweep(t, e)
		assert.Equal(t, []string{approval.EventReminder, approval.EventReminder}, cb.events())
		assert.Equal(t, 3.0, cb.payload(t, 1)["reminders_sent"])
		reminded := 0
		for _, typ := range auditTypes(t, e, aid) {
			if typ == "reminded" {
				reminded++
			}
		}
		assert.Equal(t, 2, reminded)
		left, err := e.Client.Do(context.Background(), "ZCARD", e.Keys.ApprovalReminders())
		require.NoError(t, err)
		assert.EqualValues(t, 0, left)
	})
}

func TestNoReminderAfterTheDecision(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		cb := &hook{}
		srv := httptest.NewServer(cb)
		defer srv.Close()
		aid := id(t, create(t, e, map[string]any{"callback_url": srv.URL + "/cb", "remind_after_seconds": []int{60}}))
		require.Equal(t, http.StatusOK, decide(e, aid, map[string]any{"decision": "rejected", "approver": "alice"}).Status)
		e.Clock.Advance(2 * time.Minute)
		sweep(t, e)
		assert.Equal(t, []string{approval.EventDecided}, cb.events())
		assert.NotContains(t, auditTypes(t, e, aid), "reminded")
	})
}

// TestVoteRacingTheTimeout races a vote made just before the expiry
// against a sweeper whose clock is just past it, in both orders and at
// once: there is one outcome, and one approval.decided webhook queued.
func TestVoteRacingTheTimeout(t *testing.T) {
	for _, order := range []string{"vote first", "sweep first", "together"} {
		t.Run(order, func(t *testing.T) {
			each(t, func(t *testing.T, e *servicetest.Env) {
				a := create(t, e, map[string]any{"approvers": []string{"alice"}, "on_timeout": "rejected", "expires_in_seconds": 60,
					"callback_url": "http://127.0.0.1:1/unreachable"})
				aid := id(t, a)
				e.Clock.Advance(60*time.Second - time.Millisecond)
				late := redisstore.NewApprovals(e.Client, e.Keys, 0, func() time.Time { return e.Clock.Now().Add(2 * time.Millisecond) })
				ctx := context.Background()
				vote := func() {
					_, _, _ = e.Service.Approvals.Store.Vote(ctx, aid, 0, approval.VoteRequest{Decision: "approved"})
				}
				expire := func() { _, _, err := late.ExpireDue(ctx, 10); assert.NoError(t, err) }
				switch order {
				case "vote first":
					vote()
					expire()
				case "sweep first":
					expire()
					vote()
				default:
					var wg sync.WaitGroup
					wg.Go(vote)
					wg.Go(expire)
					wg.Wait()
				}
				decided := 0
				for _, typ := range auditTypes(t, e, aid) {
					if typ == "decided" {
						decided++
					}
				}
				assert.Equal(t, 1, decided, "one outcome")
				ob := outbox(t, e)
				require.Len(t, ob, 2, "one webhook queued")
				assert.Contains(t, ob[0], "|approval.decided|")
				got := e.Do(req{Method: "GET", Path: "/api/approval/" + aid.String()})
				if order == "sweep first" {
					assert.Equal(t, "rejected", got.Body["status"])
				}
				assert.Contains(t, []any{"approved", "rejected"}, got.Body["status"])
			})
		})
	}
}

package approval_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/approval"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/redisstore"
	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
	"github.com/ai-rails/state-service/shared/webhook"
)

func TestParseEntry(t *testing.T) {
	aid := keys.NewApprovalID()
	e, err := approval.ParseEntry("d-1|" + aid.String() + "|approval.decided|1795600000000")
	require.NoError(t, err)
	assert.Equal(t, approval.Entry{Delivery: "d-1", Approval: aid, Event: "approval.decided", First: 1795600000000,
		Member: "d-1|" + aid.String() + "|approval.decided|1795600000000"}, e)
	for _, bad := range []string{"", "a|b|c", "d|not-an-id|approval.decided|1", "d|" + aid.String() + "|approval.decided|soon", "a|b|c|d|e"} {
		_, err := approval.ParseEntry(bad)
		assert.Error(t, err, bad)
	}
	for _, want := range []approval.Entry{
		{Delivery: "d-2", Approval: aid, Event: approval.EventReminder, First: 1795600000001},
		{Delivery: "d-3", Approval: aid, Event: approval.EventRequested, First: 1795600000002, Notify: true},
	} {
		m := approval.FormatEntry(want)
		got, err := approval.ParseEntry(m)
		require.NoError(t, err, m)
		want.Member = m
		assert.Equal(t, want, got)
	}
}

// The sweeper's delivery pass drops what it cannot send: an outbox entry it
// cannot read, and one whose approval is gone; neither is tried again.
func TestDeliverDueDropsWhatItCannotSend(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		ctx := context.Background()
		svc := e.Service.Approvals
		h := &hook{statuses: []int{500}}
		srv := httptest.NewServer(h)
		defer srv.Close()
		aid := id(t, create(t, e, map[string]any{"callback_url": srv.URL + "/hook"}))
		require.Equal(t, http.StatusOK, decide(e, aid, map[string]any{"decision": "approved", "approver": "alice"}).Status)
		require.Len(t, outbox(t, e), 2, "queued after three failures")
		_, err := e.Client.Do(ctx, "ZADD", e.Keys.Outbox(), 0, "not an entry")
		require.NoError(t, err)
		_, err = e.Client.Do(ctx, "DEL", e.Keys.Approval(aid))
		require.NoError(t, err)

		e.Clock.Advance(2 * approval.RetryDelay)
		rep, err := svc.DeliverDue(ctx, 10)
		require.NoError(t, err)
		assert.Equal(t, approval.DeliveryReport{Dropped: 2}, rep)
		assert.Empty(t, outbox(t, e))
		assert.Len(t, h.reqs, 3, "nothing sent for a gone approval")
	})
}

// A pending index entry that is not an approval id is dropped, not
// expired, and does not stop the others.
func TestExpireDueDropsForeignIndexEntries(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		ctx := context.Background()
		aid := id(t, create(t, e, map[string]any{"expires_in_seconds": 60}))
		_, err := e.Client.Do(ctx, "ZADD", e.Keys.PendingApprovals(), 0, "foreign")
		require.NoError(t, err)
		e.Clock.Advance(2 * time.Minute)
		n, more, err := e.Service.Approvals.ExpireDue(ctx, 10)
		require.NoError(t, err)
		assert.Equal(t, 1, n)
		assert.False(t, more)
		left, err := upstash.Strings(e.Client.Do(ctx, "ZRANGE", e.Keys.PendingApprovals(), 0, -1))
		require.NoError(t, err)
		assert.Empty(t, left)
		got := e.Do(req{Method: "GET", Path: "/api/approval/" + aid.String()})
		assert.Equal(t, "expired", got.Body["status"])
	})
}

// Without a sender (no webhook secret where the sweep runs), a decision's
// webhook waits in the outbox, and the delivery pass leaves it there.
func TestNoSenderLeavesWebhooksQueued(t *testing.T) {
	e := servicetest.New(t, upstashtest.Mini(t))
	ctx := context.Background()
	svc := approval.NewService(redisstore.NewApprovals(e.Client, e.Keys, 0, e.Clock.Now), approval.Options{
		Callbacks: &webhook.Guard{AllowInsecureLoopback: true}, Now: e.Clock.Now,
	})
	require.Equal(t, http.StatusCreated, e.Do(req{Method: "POST", Path: "/api/workflow/state",
		Body: map[string]any{"workflow_id": wf, "feature_description": "x"}}).Status)
	a := create(t, e, map[string]any{"callback_url": "http://127.0.0.1:9/hook"})
	got, err := svc.Decide(ctx, id(t, a), approval.DecideRequest{Decision: "approved", Approver: "alice"})
	require.NoError(t, err)
	assert.Equal(t, approval.Approved, got.Status)
	require.Len(t, outbox(t, e), 2)
	e.Clock.Advance(2 * approval.RetryDelay)
	rep, err := svc.DeliverDue(ctx, 10)
	require.NoError(t, err)
	assert.Equal(t, approval.DeliveryReport{Failed: 1}, rep)
	assert.Len(t, outbox(t, e), 2, "still queued")
}

// A store that is down fails the delivery and expiry passes with the
// store's error, which the sweeper reports.
func TestSweepPassesReportAStoreOutage(t *testing.T) {
	b := upstashtest.Real(t)
	e := servicetest.NewWith(t, b, nil)
	b.Redis.Stop()
	_, err := e.Service.Approvals.DeliverDue(context.Background(), 10)
	assert.ErrorIs(t, err, upstash.ErrUnavailable)
	_, _, err = e.Service.Approvals.ExpireDue(context.Background(), 10)
	assert.ErrorIs(t, err, upstash.ErrUnavailable)
}

package approval_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/approval"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/servicetest"
)

// withApprovers creates an approval that n approvers decide, min of them
// approving, through the store (the API's create takes approvers once the
// links are served).
func withApprovers(t *testing.T, e *servicetest.Env, n, min int, callback string) approval.Approval {
	t.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("approver-%02d", i)
	}
	wid, _ := keys.ParseWorkflowID(wf)
	in := approval.CreateRequest{WorkflowID: wid, Workflow: wf, RequestType: "deploy", Content: "Deploy build 42",
		Requester: "ci-bot", ExpiresInSeconds: 3600, Approvers: names, MinApprovals: min}
	if callback != "" {
		in.CallbackURL = &callback
	}
	a, err := e.Service.Approvals.Create(context.Background(), in)
	require.NoError(t, err)
	assert.Equal(t, names, a.Approvers)
	assert.Equal(t, min, a.MinApprovals)
	assert.NotNil(t, a.Votes)
	return a
}

// Two of three: the first approval leaves it pending, the second decides
// it, a third vote is refused; the same vote again stands; another vote by
// the same approver is refused.
func TestTwoOfThree(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		ctx := context.Background()
		a := withApprovers(t, e, 3, 2, "")
		aid := id(t, map[string]any{"approval_id": a.ApprovalID})
		svc := e.Service.Approvals
		ok := "looks good"
		got, err := svc.Vote(ctx, aid, 0, approval.VoteRequest{Decision: "approved", Comment: &ok})
		require.NoError(t, err)
		assert.Equal(t, approval.Pending, got.Status)
		require.Len(t, got.Votes, 1)
		assert.Equal(t, approval.Vote{Approver: "approver-00", Decision: "approved", Comment: &ok, VotedAt: "2026-11-26T10:00:00.000000000Z"}, got.Votes[0])

		same, err := svc.Vote(ctx, aid, 0, approval.VoteRequest{Decision: "approved", Comment: &ok})
		require.NoError(t, err, "the same vote again stands")
		assert.Len(t, same.Votes, 1)
		_, err = svc.Vote(ctx, aid, 0, approval.VoteRequest{Decision: "rejected"})
		assert.Equal(t, apperr.Conflict, apperr.KindOf(err), "another vote by the same approver")

		got, err = svc.Vote(ctx, aid, 2, approval.VoteRequest{Decision: "approved"})
		require.NoError(t, err)
		assert.Equal(t, approval.Approved, got.Status)
		require.NotNil(t, got.Decision)
		assert.Equal(t, "approver-02", *got.Decision.Approver, "the vote that settled it")
		assert.Equal(t, approval.ByApprover, got.Decision.By)
		_, err = svc.Vote(ctx, aid, 1, approval.VoteRequest{Decision: "rejected"})
		assert.Equal(t, apperr.Conflict, apperr.KindOf(err), "a vote on a final approval")
		_, err = svc.Vote(ctx, aid, 7, approval.VoteRequest{Decision: "approved"})
		assert.Equal(t, apperr.NotFound, apperr.KindOf(err), "no such approver")
		assert.Equal(t, []string{"created", "voted", "voted", "decided"}, auditTypes(t, e, aid))
	})
}

// A veto rejects at once.
func TestAVeto(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		a := withApprovers(t, e, 3, 1, "")
		aid := id(t, map[string]any{"approval_id": a.ApprovalID})
		got, err := e.Service.Approvals.Vote(context.Background(), aid, 1, approval.VoteRequest{Decision: "rejected"})
		require.NoError(t, err)
		assert.Equal(t, approval.Rejected, got.Status)
	})
}

// All 20 approvers vote at once, each twice, some approving and some
// rejecting: one final outcome, the one the quorum rule makes of the votes
// taken, one approval.decided webhook, and every vote taken in the audit
// once.
func TestTwentyApproversAtOnce(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		h := &hook{}
		srv := httptest.NewServer(h)
		defer srv.Close()
		a := withApprovers(t, e, approval.MaxApprovers, 15, srv.URL+"/hook")
		aid := id(t, map[string]any{"approval_id": a.ApprovalID})
		var wg sync.WaitGroup
		for i := range approval.MaxApprovers {
			decision := "approved"
			if i%7 == 3 {
				decision = "rejected"
			}
			for range 2 {
				wg.Go(func() {
					_, err := e.Service.Approvals.Vote(context.Background(), aid, i, approval.VoteRequest{Decision: decision})
					if err != nil {
						assert.Equal(t, apperr.Conflict, apperr.KindOf(err), "%v", err)
					}
				})
			}
		}
		wg.Wait()
		got := e.Do(req{Method: "GET", Path: "/api/approval/" + aid.String()})
		require.Equal(t, http.StatusOK, got.Status)
		votes := got.Body["votes"].([]any)
		approvals, rejections := 0, 0
		seen := map[string]bool{}
		for _, v := range votes {
			vote := v.(map[string]any)
			assert.False(t, seen[vote["approver"].(string)], "one vote per approver")
			seen[vote["approver"].(string)] = true
			if vote["decision"] == "approved" {
				approvals++
			} else {
				rejections++
			}
		}
		want := approval.Outcome(approval.MaxApprovers, 15, approvals, rejections)
		assert.NotEqual(t, approval.Pending, want)
		assert.Equal(t, string(want), got.Body["status"])
		types := auditTypes(t, e, aid)
		count := map[string]int{}
		for _, typ := range types {
			count[typ]++
		}
		assert.Equal(t, len(votes), count["voted"], "every vote taken, once")
		assert.Equal(t, 1, count["decided"])
		assert.Equal(t, 1, count["webhook_delivered"])
		assert.Len(t, h.reqs, 1, "one approval.decided webhook")
	})
}

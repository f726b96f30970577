package keys_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/ai-rails/state-service/shared/keys"
)

func TestPlanningDocumentKeys(t *testing.T) {
	s := keys.Default()
	wf, err := keys.ParseWorkflowID("ABC-123456")
	require.NoError(t, err)
	ap, err := keys.ParseApprovalID("3f0c6a8e-5b7d-4c1e-9a2b-1d2e3f4a5b6c")
	require.NoError(t, err)
	tid, err := keys.ParseTestID("run-42")
	require.NoError(t, err)
	rid, err := keys.ParseResourceID("deploy:prod")
	require.NoError(t, err)
	m, err := keys.ParseMetricName("requests")
	require.NoError(t, err)
	at := time.Date(2026, 11, 26, 10, 4, 5, 0, time.FixedZone("CET", 3600))

	assert.Equal(t, "ai_rails_workflow_ABC-123456", s.Workflow(wf))
	assert.Equal(t, "ai_rails_approval_3f0c6a8e-5b7d-4c1e-9a2b-1d2e3f4a5b6c", s.Approval(ap))
	assert.Equal(t, "ai_rails_test_run-42", s.TestResult(tid))
	assert.Equal(t, "ai_rails_lock_deploy:prod", s.Lock(rid))
	assert.Equal(t, s.Lock(rid), s.LockKey(rid))
	assert.Equal(t, "ai_rails_service_lock_sweeper", s.LockKey(keys.SweeperLock))
	assert.False(t, strings.HasPrefix(s.LockKey(keys.SweeperLock), s.Prefix()+"lock_"), "no resource id builds a service lock's key")
	assert.Equal(t, "ai_rails_metric_requests_2026112609", s.Metric(m, at), "the hour is UTC")
	assert.Equal(t, "ai_rails_history_ABC-123456", s.History(wf))
	assert.Equal(t, "ai_rails_audit_3f0c6a8e-5b7d-4c1e-9a2b-1d2e3f4a5b6c", s.Audit(ap))
	assert.Equal(t, "ai_rails_index_workflows", s.WorkflowIndex())
	assert.Equal(t, "ai_rails_index_workflows_in_progress", s.WorkflowStatusIndex("in_progress"))
	assert.Equal(t, "ai_rails_workflow_", s.WorkflowKeyPrefix())
	assert.Equal(t, "ai_rails_index_approvals_pending", s.PendingApprovals())
	assert.Equal(t, "ai_rails_index_approvals", s.ApprovalIndex())
	assert.Equal(t, "ai_rails_approval_", s.ApprovalKeyPrefix())
	assert.Equal(t, "ai_rails_index_approvals_ABC-123456", s.WorkflowApprovals(wf))
	assert.Equal(t, "ai_rails_index_results_ABC-123456", s.WorkflowResults(wf))
	assert.Equal(t, "ai_rails_webhook_outbox", s.Outbox())
	assert.Equal(t, "ai_rails_*", s.Pattern())

	ik, err := keys.ParseIdempotencyKey("retry-1")
	require.NoError(t, err)
	k := s.Idempotency("approval", ik)
	assert.Regexp(t, `^ai_rails_idempotency_[0-9a-f]{64}$`, k)
	assert.NotEqual(t, k, s.Idempotency("results", ik), "scopes do not share keys")

	assert.Equal(t, 86400*time.Second, keys.WorkflowDefaultTTL)
	assert.Equal(t, 168*time.Hour, keys.WorkflowMaxTTL)
	assert.Equal(t, 604800*time.Second, keys.TestResultTTL)
	assert.Equal(t, 300*time.Second, keys.LockMaxTTL)
	assert.Equal(t, 2592000*time.Second, keys.MetricTTL)
	assert.Equal(t, 24*time.Hour, keys.IdempotencyTTL)
}

func TestPrefix(t *testing.T) {
	s, err := keys.New("")
	require.NoError(t, err)
	assert.Equal(t, keys.DefaultPrefix, s.Prefix())
	s, err = keys.New("staging:rails_")
	require.NoError(t, err)
	wf, _ := keys.ParseWorkflowID("ABC-123456")
	assert.Equal(t, "staging:rails_workflow_ABC-123456", s.Workflow(wf))
	for _, bad := range []string{"has space", "star*", strings.Repeat("a", 65), "new\nline"} {
		_, err := keys.New(bad)
		assert.Error(t, err, bad)
	}
	s, err = keys.New("a.b-c")
	require.NoError(t, err)
	assert.Equal(t, "a.b-c*", s.Pattern())
}

func TestInvalidIDsAreRefused(t *testing.T) {
	for _, tc := range []struct {
		parse func(string) error
		bad   []string
	}{
		{func(s string) error { _, err := keys.ParseWorkflowID(s); return err },
			[]string{"", "abc-123456", "ABC-12345", "ABC-1234567", "ABC_123456", "AB1-123456", "ABC-12345a", "ABC-123456\n", "../../etc"}},
		{func(s string) error { _, err := keys.ParseApprovalID(s); return err },
			[]string{"", "3F0C6A8E-5B7D-4C1E-9A2B-1D2E3F4A5B6C", "3f0c6a8e-5b7d-1c1e-9a2b-1d2e3f4a5b6c", "3f0c6a8e-5b7d-4c1e-7a2b-1d2e3f4a5b6c", "3f0c6a8e5b7d4c1e9a2b1d2e3f4a5b6c", "3f0c6a8e-5b7d-4c1e-9a2b-1d2e3f4a5b6g"}},
		{func(s string) error { _, err := keys.ParseTestID(s); return err },
			[]string{"", "-run", "_run", "run 42", "run/42", strings.Repeat("a", 65), "run*"}},
		{func(s string) error { _, err := keys.ParseResourceID(s); return err },
			[]string{"", ":a", "a b", strings.Repeat("a", 129), "a/b"}},
		{func(s string) error { _, err := keys.ParseMetricName(s); return err },
			[]string{"", "Requests", "1abc", "a-b", strings.Repeat("a", 65)}},
		{func(s string) error { _, err := keys.ParseIdempotencyKey(s); return err },
			[]string{"", strings.Repeat("k", 129), "tab\there", "é"}},
	} {
		for _, s := range tc.bad {
			err := tc.parse(s)
			assert.ErrorIs(t, err, keys.ErrInvalidID, "%q", s)
		}
	}
	_, err := keys.ParseWorkflowID(strings.Repeat("X", 500))
	assert.LessOrEqual(t, len(err.Error()), 200, "long input is cut in the message")
}

func TestMintedIDsParse(t *testing.T) {
	for range 100 {
		a := keys.NewApprovalID()
		_, err := keys.ParseApprovalID(a.String())
		require.NoError(t, err)
		tid := keys.NewTestID()
		_, err = keys.ParseTestID(tid.String())
		require.NoError(t, err)
	}
}

// TestParsersAgreeWithPatterns checks the hand-written matchers against the
// regular expressions API.md states, on generated strings.
func TestParsersAgreeWithPatterns(t *testing.T) {
	type parser struct {
		re    *regexp.Regexp
		parse func(string) error
		gen   *rapid.Generator[string]
	}
	near := func(alphabet string, maxLen int) *rapid.Generator[string] {
		return rapid.StringOfN(rapid.SampledFrom([]rune(alphabet)), 0, maxLen, -1)
	}
	parsers := map[string]parser{
		"workflow": {regexp.MustCompile(keys.WorkflowIDPattern),
			func(s string) error { _, err := keys.ParseWorkflowID(s); return err },
			rapid.OneOf(near("ABZ09-a", 12), rapid.StringMatching(keys.WorkflowIDPattern))},
		"approval": {regexp.MustCompile(keys.ApprovalIDPattern),
			func(s string) error { _, err := keys.ParseApprovalID(s); return err },
			rapid.OneOf(near("0489abfg-A", 38), rapid.StringMatching(keys.ApprovalIDPattern))},
		"test": {regexp.MustCompile(keys.TestIDPattern),
			func(s string) error { _, err := keys.ParseTestID(s); return err },
			rapid.OneOf(near("aZ09_.-: /", 70), rapid.StringMatching(keys.TestIDPattern))},
		"resource": {regexp.MustCompile(keys.ResourceIDPattern),
			func(s string) error { _, err := keys.ParseResourceID(s); return err },
			rapid.OneOf(near("aZ09_.-: /", 135), rapid.StringMatching(keys.ResourceIDPattern))},
		"metric": {regexp.MustCompile(keys.MetricNamePattern),
			func(s string) error { _, err := keys.ParseMetricName(s); return err },
			rapid.OneOf(near("az09_-A", 70), rapid.StringMatching(keys.MetricNamePattern))},
	}
	for name, p := range parsers {
		t.Run(name, rapid.MakeCheck(func(t *rapid.T) {
			s := p.gen.Draw(t, "s")
			want := p.re.MatchString(s)
			if got := p.parse(s) == nil; got != want {
				t.Fatalf("%q: parser accepts=%v, pattern matches=%v", s, got, want)
			}
		}))
	}
}

// TestKeysNeverCollide checks that keys of different families, built from
// any valid ids, are never equal.
func TestKeysNeverCollide(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s := keys.Default()
		wf, _ := keys.ParseWorkflowID(rapid.StringMatching(keys.WorkflowIDPattern).Draw(t, "wf"))
		ap, _ := keys.ParseApprovalID(rapid.StringMatching(keys.ApprovalIDPattern).Draw(t, "ap"))
		tid, _ := keys.ParseTestID(rapid.StringMatching(keys.TestIDPattern).Draw(t, "test"))
		rid, _ := keys.ParseResourceID(rapid.StringMatching(keys.ResourceIDPattern).Draw(t, "res"))
		all := []string{s.Workflow(wf), s.History(wf), s.Approval(ap), s.Audit(ap), s.TestResult(tid),
			s.Lock(rid), s.WorkflowIndex(), s.PendingApprovals(), s.ApprovalIndex(), s.WorkflowApprovals(wf), s.WorkflowResults(wf), s.Outbox(), s.ApprovalReminders()}
		seen := map[string]bool{}
		for _, k := range all {
			if seen[k] {
				t.Fatalf("key %q built twice", k)
			}
			seen[k] = true
			if !strings.HasPrefix(k, s.Prefix()) {
				t.Fatalf("key %q lacks the prefix", k)
			}
		}
	})
}

func TestFamiliesListEveryKey(t *testing.T) {
	fams := keys.Default().Families()
	assert.Len(t, fams, 23)
	for _, f := range fams {
		assert.True(t, strings.HasPrefix(f.Example, keys.DefaultPrefix), f.Name)
		assert.NotEmpty(t, f.TTL, f.Name)
	}
}

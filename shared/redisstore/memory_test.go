package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/results"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
)

func TestIngestScriptRuns(t *testing.T) {
	c := upstashtest.Mini(t).Client(t, upstash.Options{})
	s := NewResults(c, keys.Default(), ResultsOptions{})
	wf, _ := keys.ParseWorkflowID("ABC-123456")
	in := results.Input{WorkflowID: wf, Executed: time.Now(), Result: results.TestResults{TestSuite: "unit",
		FailureDetails: []results.FailureDetail{{Test: "a", Message: "boom 1"}}},
		Cases: []results.Case{{Name: "a", Outcome: "failed"}, {Name: "b", Outcome: "passed"}}}
	_, err := s.Create(context.Background(), in)
	require.NoError(t, err)
}

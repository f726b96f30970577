package workflow_test

import (
	"testing"

	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/servicetest"
)

// each runs fn against the workflow API over real Redis and miniredis.
func each(t *testing.T, fn func(t *testing.T, e *servicetest.Env)) {
	servicetest.ForEachBackend(t, fn)
}

func mustID(s string) keys.WorkflowID {
	id, err := keys.ParseWorkflowID(s)
	if err != nil {
		panic(err)
	}
	return id
}

package results

import (
	"context"

	"github.com/ai-rails/state-service/shared/keys"
)

// Service keeps test results; redisstore's Results is the one in use. A
// test_id already taken is an apperr Conflict.
type Service interface {
	// Create stores a checked Input (Input.Check) for keys.TestResultTTL.
	Create(ctx context.Context, in Input) (TestResults, error)
	Get(ctx context.Context, id keys.TestID) (TestResults, error)
	// List reads a page of a workflow's results, newest executed_at first,
	// and the summary of every run it keeps.
	List(ctx context.Context, q ListQuery) (Page, error)
}

// ListQuery is one page of a workflow's results to read.
type ListQuery struct {
	Workflow keys.WorkflowID
	Limit    int
	// Cursor is the opaque next_cursor of the page before; "" for the first.
	Cursor string
}

package workflow

import (
	"context"
	"encoding/json"

	"github.com/ai-rails/state-service/shared/keys"
)

// Service keeps workflow states, each call one atomic step; redisstore's
// Workflows is the one in use. Errors are apperr errors: NotFound,
// PreconditionFailed, InvalidTransition, Validation; anything else is the
// store's failure.
type Service interface {
	// Save creates the workflow or replaces the fields the change gives. It
	// reports whether it created the workflow.
	Save(ctx context.Context, ch Change) (State, bool, error)
	// Patch merge-patches a stored workflow.
	Patch(ctx context.Context, ch Change) (State, error)
	Get(ctx context.Context, id keys.WorkflowID) (State, error)
	// Delete deletes a workflow and adds the delete to its history.
	Delete(ctx context.Context, id keys.WorkflowID) error
	// History reads a workflow's events, oldest first. It is not found only
	// when neither the history nor the state exists.
	History(ctx context.Context, id keys.WorkflowID) (History, error)
	// List returns workflows newest last_updated first.
	List(ctx context.Context, q ListQuery) (Page, error)
}

// Condition is a request's precondition on the stored version.
type Condition struct {
	// Kind is "" (none), "match" (If-Match) or "none" (If-None-Match).
	Kind string
	// Any is true for "*".
	Any bool
	// Versions are the versions listed.
	Versions []int64
}

// Change is a validated write. Nil fields are left as stored (or get their
// defaults on create). Raw JSON fields hold canonical JSON.
type Change struct {
	ID                 keys.WorkflowID
	Status             Status // "" when not given
	FeatureDescription json.RawMessage
	CurrentStage       json.RawMessage
	// Metadata replaces the stored metadata (Save), or is a merge patch of
	// it, or null to clear it (Patch).
	Metadata json.RawMessage
	TTLHours *int
	Cond     Condition
}

// ListQuery is one page of workflows to read.
type ListQuery struct {
	// Status keeps only workflows of this status; "" keeps all.
	Status Status
	Limit  int
	// Cursor is the opaque next_cursor of the page before; "" for the first.
	Cursor string
}

// Page is one page of a list.
type Page struct {
	Items      []State `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

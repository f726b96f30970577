package testhistory

import (
	"strings"
	"unicode"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/keys"
)

// CheckTest validates a test name query parameter: 1 to 1024 bytes with no
// control characters, as the cases' names are.
func CheckTest(errs *apperr.Collector, test *string) string {
	if test == nil || *test == "" || len(*test) > 1024 || strings.IndexFunc(*test, unicode.IsControl) >= 0 {
		errs.Add("test", "is required, 1 to 1024 bytes with no control characters")
		return ""
	}
	return *test
}

// CheckWorkflow validates an optional workflow_id query parameter.
func CheckWorkflow(errs *apperr.Collector, workflowID *string) *keys.WorkflowID {
	if workflowID == nil {
		return nil
	}
	id, err := keys.ParseWorkflowID(*workflowID)
	if err != nil {
		errs.Add("workflow_id", "must match %s", keys.WorkflowIDPattern)
	}
	return &id
}

package testhistory

import (
	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/results"
)

// CheckTest validates a test name query parameter as the cases' names are
// checked, up to the longest classname.name (results.MaxTestName).
func CheckTest(errs *apperr.Collector, test *string) string {
	name := ""
	if test != nil {
		name = *test
	}
	if why := results.NameProblem(name, results.MaxTestName, true); why != "" {
		errs.Add("test", "%s", why)
		return ""
	}
	return name
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

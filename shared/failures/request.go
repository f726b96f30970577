package failures

import (
	"unicode/utf8"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/results"
)

// SimilarBody is the JSON body of POST /api/failures/similar.
type SimilarBody struct {
	Text              *string `json:"text"`
	K                 *int    `json:"k"`
	ExcludeWorkflowID *string `json:"exclude_workflow_id"`
}

// ParseSimilar validates the body: text 1 byte to MaxSimilarText, k 1 to
// MaxK (DefaultK when left out), and an optional workflow to leave out.
func ParseSimilar(b SimilarBody) (SimilarQuery, error) {
	var errs apperr.Collector
	q := SimilarQuery{K: DefaultK}
	switch {
	case b.Text == nil || *b.Text == "":
		errs.Add("text", "is required, 1 to %d bytes", MaxSimilarText)
	case len(*b.Text) > MaxSimilarText:
		errs.Add("text", "must be at most %d bytes", MaxSimilarText)
	case !utf8.ValidString(*b.Text):
		errs.Add("text", "must be UTF-8")
	default:
		q.Text = *b.Text
	}
	if b.K != nil {
		if *b.K < 1 || *b.K > MaxK {
			errs.Add("k", "must be an integer from 1 to %d", MaxK)
		}
		q.K = *b.K
	}
	if b.ExcludeWorkflowID != nil {
		id, err := keys.ParseWorkflowID(*b.ExcludeWorkflowID)
		if err != nil {
			errs.Add("exclude_workflow_id", "must match %s", keys.WorkflowIDPattern)
		}
		q.Exclude = &id
	}
	return q, errs.Err()
}

// ParseGroupScope validates the scope of GET /api/failures: a workflow_id
// or a test_suite, exactly one.
func ParseGroupScope(errs *apperr.Collector, workflowID, suite *string) GroupQuery {
	var q GroupQuery
	switch {
	case (workflowID == nil) == (suite == nil):
		errs.Add("workflow_id", "give either workflow_id or test_suite, not both or neither")
	case workflowID != nil:
		id, err := keys.ParseWorkflowID(*workflowID)
		if err != nil {
			errs.Add("workflow_id", "must match %s", keys.WorkflowIDPattern)
		}
		q.Workflow = &id
	default:
		q.Suite = CheckSuite(errs, suite)
	}
	return q
}

// CheckSuite validates a test_suite query parameter as uploads check it: 1
// to results.MaxSuite characters.
func CheckSuite(errs *apperr.Collector, suite *string) string {
	if suite == nil || *suite == "" || utf8.RuneCountInString(*suite) > results.MaxSuite || !utf8.ValidString(*suite) {
		errs.Add("test_suite", "is required, 1 to %d characters", results.MaxSuite)
		return ""
	}
	return *suite
}

package mcpserver

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/approval"
	"github.com/ai-rails/state-service/shared/failures"
	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/metrics"
	"github.com/ai-rails/state-service/shared/results"
	"github.com/ai-rails/state-service/shared/testhistory"
	"github.com/ai-rails/state-service/shared/workflow"
)

// call runs one tool with its raw arguments: it decodes them as strictly
// as the REST route decodes its body (no unknown members, no duplicates),
// validates them with the route's own rules, and calls the route's
// service. Its answer is the REST answer's body.
type call func(ctx context.Context, s Services, args []byte) (any, error)

// calls are the tools' implementations, by name; routes.Tools lists them.
var calls = map[string]call{
	"workflow_get":     workflowGet,
	"workflow_update":  workflowUpdate,
	"workflow_history": workflowHistory,
	"approval_request": approvalRequest,
	"approval_get":     approvalGet,
	"approval_wait":    approvalWait,
	"results_record":   resultsRecord,
	"tests_flaky":      testsFlaky,
	"failures_similar": failuresSimilar,
}

// Call runs the tool named with its raw arguments, as tools/call does: its
// answer, or the error whose problem detail the call answers.
func Call(ctx context.Context, s Services, name string, args []byte) (any, error) {
	c, ok := calls[name]
	if !ok {
		return nil, apperr.New(apperr.NotFound, "no tool %s", name)
	}
	return c(ctx, s, args)
}

// decode reads a tool's arguments into dst; none reads as {}.
func decode(args []byte, dst any) error {
	if len(strings.TrimSpace(string(args))) == 0 || string(args) == "null" {
		args = []byte("{}")
	}
	return httpkit.Unmarshal(args, dst)
}

func workflowID(errs *apperr.Collector, field string, v *string) keys.WorkflowID {
	if v == nil {
		errs.Add(field, "is required")
		return keys.WorkflowID{}
	}
	id, err := keys.ParseWorkflowID(*v)
	if err != nil {
		errs.Add(field, "must match %s", keys.WorkflowIDPattern)
	}
	return id
}

func approvalID(errs *apperr.Collector, v *string) keys.ApprovalID {
	if v == nil {
		errs.Add("approval_id", "is required")
		return keys.ApprovalID{}
	}
	id, err := keys.ParseApprovalID(*v)
	if err != nil {
		errs.Add("approval_id", "must be a lowercase UUID version 4")
	}
	return id
}

// workflowArg reads arguments that name a workflow and nothing else.
func workflowArg(args []byte) (keys.WorkflowID, error) {
	var a struct {
		WorkflowID *string `json:"workflow_id"`
	}
	if err := decode(args, &a); err != nil {
		return keys.WorkflowID{}, err
	}
	var errs apperr.Collector
	id := workflowID(&errs, "workflow_id", a.WorkflowID)
	return id, errs.Err()
}

func workflowGet(ctx context.Context, s Services, args []byte) (any, error) {
	id, err := workflowArg(args)
	if err != nil {
		return nil, err
	}
	return s.Workflows.Get(ctx, id)
}

func workflowHistory(ctx context.Context, s Services, args []byte) (any, error) {
	id, err := workflowArg(args)
	if err != nil {
		return nil, err
	}
	return s.Workflows.History(ctx, id)
}

type updateArgs struct {
	WorkflowID      *string         `json:"workflow_id"`
	Status          json.RawMessage `json:"status"`
	CurrentStage    json.RawMessage `json:"current_stage"`
	Metadata        json.RawMessage `json:"metadata"`
	ExpectedVersion *int64          `json:"expected_version"`
}

// workflowUpdate is PATCH /api/workflow/state/{id}, with If-Match as
// expected_version.
func workflowUpdate(ctx context.Context, s Services, args []byte) (any, error) {
	var a updateArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	var errs apperr.Collector
	id := workflowID(&errs, "workflow_id", a.WorkflowID)
	if a.ExpectedVersion != nil && *a.ExpectedVersion < 1 {
		errs.Add("expected_version", "must be an integer from 1")
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	ch, err := workflow.ParsePatch(id, workflow.PatchBody{Status: a.Status, CurrentStage: a.CurrentStage, Metadata: a.Metadata})
	if err != nil {
		return nil, err
	}
	if a.ExpectedVersion != nil {
		ch.Cond = workflow.Condition{Kind: "match", Versions: []int64{*a.ExpectedVersion}}
	}
	st, err := s.Workflows.Patch(ctx, ch)
	if err == nil {
		metrics.Count(ctx, metrics.WorkflowUpdated)
	}
	return st, err
}

type requestArgs struct {
	WorkflowID         *string  `json:"workflow_id"`
	RequestType        *string  `json:"request_type"`
	Content            *string  `json:"content"`
	Requester          *string  `json:"requester"`
	Approvers          []string `json:"approvers"`
	MinApprovals       *int     `json:"min_approvals"`
	ExpiresInSeconds   *int     `json:"expires_in_seconds"`
	RemindAfterSeconds []int    `json:"remind_after_seconds"`
	OnTimeout          *string  `json:"on_timeout"`
}

// approvalRequest is POST /api/approval with approvers, whose links go to
// the notification endpoint only: the answer has none, and without an
// endpoint the tool refuses, as nobody would ever get them.
func approvalRequest(ctx context.Context, s Services, args []byte) (any, error) {
	if !s.Approvals.Notifies() {
		return nil, apperr.New(apperr.Unprocessable, "this service has no notification endpoint (APPROVAL_NOTIFY_URL), so approvers would never get their links; ask the operator to set it")
	}
	var a requestArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	if a.Approvers == nil {
		return nil, apperr.Invalid(apperr.Field("approvers", "is required: the people who decide, 1 to %d", approval.MaxApprovers))
	}
	in, err := s.Approvals.ParseCreate(ctx, approval.CreateBody{
		WorkflowID: a.WorkflowID, RequestType: a.RequestType, Content: a.Content, Requester: a.Requester,
		ExpiresInSeconds: a.ExpiresInSeconds, Approvers: a.Approvers, MinApprovals: a.MinApprovals,
		RemindAfterSeconds: a.RemindAfterSeconds, OnTimeout: a.OnTimeout,
	})
	if err != nil {
		return nil, err
	}
	ap, err := s.Approvals.Create(ctx, in)
	if err == nil {
		metrics.Count(ctx, metrics.ApprovalCreated)
	}
	return ap, err
}

type approvalArgs struct {
	ApprovalID     *string `json:"approval_id"`
	TimeoutSeconds *int    `json:"timeout_seconds"`
}

// approvalArg reads arguments that name an approval, and for a wait, its
// timeout (withWait); a timeout anywhere else is an unknown member.
func approvalArg(args []byte, withWait bool) (keys.ApprovalID, time.Duration, error) {
	var a approvalArgs
	if err := decode(args, &a); err != nil {
		return keys.ApprovalID{}, 0, err
	}
	var errs apperr.Collector
	id := approvalID(&errs, a.ApprovalID)
	wait := approval.DefaultWait
	switch {
	case a.TimeoutSeconds == nil:
	case !withWait:
		errs.Add("timeout_seconds", "is not an argument of approval_get; use approval_wait")
	default:
		wait = approval.CheckWait(&errs, "timeout_seconds", *a.TimeoutSeconds)
	}
	return id, wait, errs.Err()
}

func approvalGet(ctx context.Context, s Services, args []byte) (any, error) {
	id, _, err := approvalArg(args, false)
	if err != nil {
		return nil, err
	}
	return s.Approvals.Get(ctx, id)
}

// Wait is approval_wait's answer: the approval, whether it is final, and
// when it is not, when to wait again.
type Wait struct {
	Approval    approval.Approval `json:"approval"`
	Final       bool              `json:"final"`
	PollAfterMS *int64            `json:"poll_after_ms,omitempty"`
}

// approvalWait is GET /api/approval/{id}?wait=N.
func approvalWait(ctx context.Context, s Services, args []byte) (any, error) {
	id, wait, err := approvalArg(args, true)
	if err != nil {
		return nil, err
	}
	ap, final, err := s.Approvals.Wait(ctx, id, wait)
	if err != nil {
		return nil, err
	}
	out := Wait{Approval: ap, Final: final}
	if !final {
		ms := approval.PollAfter.Milliseconds()
		out.PollAfterMS = &ms
	}
	return out, nil
}

type recordArgs struct {
	WorkflowID *string `json:"workflow_id"`
	TestSuite  *string `json:"test_suite"`
	Format     *string `json:"format"`
	Report     *string `json:"report"`
	Commit     *string `json:"commit"`
	Branch     *string `json:"branch"`
	Attempt    *int    `json:"attempt"`
}

// resultsRecord is POST /api/results: a JSON body (format json), or a
// JUnit XML or go test -json report with the run's fields beside it.
func resultsRecord(ctx context.Context, s Services, args []byte) (any, error) {
	var a recordArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	var errs apperr.Collector
	if a.Format == nil || (*a.Format != "json" && *a.Format != "junit" && *a.Format != "go-test-json") {
		errs.Add("format", "must be one of json, junit, go-test-json")
	}
	if a.Report == nil || *a.Report == "" {
		errs.Add("report", "is required: the run's output, as text")
	} else if len(*a.Report) > httpkit.MaxBodyBytes {
		return nil, apperr.New(apperr.TooLarge, "report exceeds %d bytes", httpkit.MaxBodyBytes)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	var in results.Input
	var err error
	if *a.Format == "json" {
		in, err = jsonReport(a, s.now())
	} else {
		q := url.Values{}
		for name, v := range map[string]*string{"workflow_id": a.WorkflowID, "test_suite": a.TestSuite, "commit": a.Commit, "branch": a.Branch} {
			if v != nil {
				q.Set(name, *v)
			}
		}
		if a.Attempt != nil {
			q.Set("attempt", strconv.Itoa(*a.Attempt))
		}
		in, err = results.ParseReport(*a.Format == "go-test-json", strings.NewReader(*a.Report), q, s.now())
	}
	if err != nil {
		return nil, err
	}
	res, err := s.Results.Create(ctx, in)
	if err == nil {
		metrics.Count(ctx, metrics.ResultsStored)
	}
	return res, err
}

// jsonReport reads a report of format json: the body of POST /api/results,
// whose run fields the arguments give; a field in both must agree.
func jsonReport(a recordArgs, now time.Time) (results.Input, error) {
	var b results.JSONBody
	if err := httpkit.Unmarshal([]byte(*a.Report), &b); err != nil {
		return results.Input{}, apperr.Invalid(apperr.Field("report", "is not the JSON of a test run: %s", detailOf(err)))
	}
	var errs apperr.Collector
	for _, f := range []struct {
		name     string
		arg      *string
		inReport **string
	}{{"workflow_id", a.WorkflowID, &b.WorkflowID}, {"test_suite", a.TestSuite, &b.TestSuite}, {"commit", a.Commit, &b.Commit}, {"branch", a.Branch, &b.Branch}} {
		switch {
		case f.arg == nil:
		case *f.inReport == nil:
			*f.inReport = f.arg
		case **f.inReport != *f.arg:
			errs.Add(f.name, "differs from the report's %s", f.name)
		}
	}
	switch {
	case a.Attempt == nil:
	case b.Attempt == nil:
		b.Attempt = a.Attempt
	case *b.Attempt != *a.Attempt:
		errs.Add("attempt", "differs from the report's attempt")
	}
	if err := errs.Err(); err != nil {
		return results.Input{}, err
	}
	in, err := results.ParseJSON(b, now)
	if err != nil {
		return in, err
	}
	return in, in.Check()
}

func testsFlaky(ctx context.Context, s Services, args []byte) (any, error) {
	var a struct {
		TestSuite  *string `json:"test_suite"`
		WorkflowID *string `json:"workflow_id"`
		Limit      *int    `json:"limit"`
	}
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	var errs apperr.Collector
	q := testhistory.FlakyQuery{Suite: failures.CheckSuite(&errs, a.TestSuite), Workflow: testhistory.CheckWorkflow(&errs, a.WorkflowID),
		Limit: httpkit.DefaultLimit}
	if a.Limit != nil {
		if *a.Limit < 1 || *a.Limit > httpkit.MaxLimit {
			errs.Add("limit", "must be an integer from 1 to %d", httpkit.MaxLimit)
		}
		q.Limit = *a.Limit
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return s.TestHistory.Flaky(ctx, q)
}

func failuresSimilar(ctx context.Context, s Services, args []byte) (any, error) {
	var b failures.SimilarBody
	if err := decode(args, &b); err != nil {
		return nil, err
	}
	q, err := failures.ParseSimilar(b)
	if err != nil {
		return nil, err
	}
	return s.Failures.Similar(ctx, q)
}

package results

import (
	"bytes"
	"encoding/json"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/jsondoc"
	"github.com/ai-rails/state-service/shared/keys"
)

// JSONBody is the JSON form of POST /api/results.
type JSONBody struct {
	TestID          *string         `json:"test_id"`
	WorkflowID      *string         `json:"workflow_id"`
	TestSuite       *string         `json:"test_suite"`
	Passed          *int64          `json:"passed"`
	Failed          *int64          `json:"failed"`
	Skipped         *int64          `json:"skipped"`
	DurationSeconds *float64        `json:"duration_seconds"`
	FailureDetails  []failureBody   `json:"failure_details"`
	CoveragePercent json.RawMessage `json:"coverage_percent"`
	ExecutedAt      *string         `json:"executed_at"`
	Commit          *string         `json:"commit"`
	Branch          *string         `json:"branch"`
	Attempt         *int            `json:"attempt"`
	Cases           []caseBody      `json:"cases"`
}

type failureBody struct {
	Test    *string `json:"test"`
	Message *string `json:"message"`
	File    *string `json:"file"`
	Line    *int    `json:"line"`
}

// Input is a validated result before it is stored; TestID may be zero, to be
// minted.
type Input struct {
	TestID     keys.TestID
	HasTestID  bool
	WorkflowID keys.WorkflowID
	Result     TestResults
	Executed   time.Time
	// Cases are the run's test cases, for their tests' histories; the
	// stored result does not keep them.
	Cases []Case
}

// ParseJSON validates the JSON form.
func ParseJSON(b JSONBody, now time.Time) (Input, error) {
	var errs apperr.Collector
	var in Input
	r := &in.Result
	head(&errs, &in, b.TestID, b.WorkflowID, b.TestSuite)
	var caseFailures []FailureDetail
	in.Cases, caseFailures = parseCases(&errs, b.Cases)
	tally := [3]int64{}
	tally[0], tally[1], tally[2] = Tally(in.Cases)
	for i, c := range []struct {
		name string
		v    *int64
		dst  *int64
	}{{"passed", b.Passed, &r.Passed}, {"failed", b.Failed, &r.Failed}, {"skipped", b.Skipped, &r.Skipped}} {
		switch {
		case c.v == nil && b.Cases != nil:
			*c.dst = tally[i]
		case c.v == nil:
			errs.Add(c.name, "is required, an integer of at least 0, unless cases are given")
		case *c.v < 0:
			errs.Add(c.name, "must be an integer of at least 0")
		case *c.v < tally[i]:
			errs.Add(c.name, "must be at least the %d cases with that outcome", tally[i])
		default:
			*c.dst = *c.v
		}
	}
	switch {
	case b.DurationSeconds != nil:
		r.DurationSeconds = *b.DurationSeconds
	case b.Cases != nil:
		for _, c := range in.Cases {
			if c.DurationSeconds != nil {
				r.DurationSeconds += *c.DurationSeconds
			}
		}
	default:
		errs.Add("duration_seconds", "is required, a number from 0 to %d, unless cases are given", MaxDurationSeconds)
	}
	if b.FailureDetails == nil && b.Cases != nil {
		r.FailureDetails = caseFailures
	}
	if len(b.FailureDetails) > MaxFailureDetails {
		errs.Add("failure_details", "must hold at most %d items", MaxFailureDetails)
	}
	if r.FailureDetails == nil {
		r.FailureDetails = make([]FailureDetail, 0, len(b.FailureDetails))
	}
	for i, f := range b.FailureDetails {
		field := "failure_details[" + strconv.Itoa(i) + "]"
		switch {
		case f.Test == nil || *f.Test == "" || len(*f.Test) > 1024:
			errs.Add(field+".test", "is required, 1 to 1024 bytes")
		case f.Message == nil || len(*f.Message) > MaxMessageBytes:
			errs.Add(field+".message", "is required, at most %d bytes", MaxMessageBytes)
		case f.File != nil && len(*f.File) > 1024:
			errs.Add(field+".file", "must be at most 1024 bytes")
		case f.Line != nil && (*f.Line < 0 || *f.Line > MaxLine):
			errs.Add(field+".line", "must be from 0 to %d", MaxLine)
		default:
			r.FailureDetails = append(r.FailureDetails, FailureDetail{Test: *f.Test, Message: *f.Message, File: f.File, Line: f.Line})
		}
		if len(errs.Fields()) > 20 {
			break
		}
	}
	if raw := bytes.TrimSpace(b.CoveragePercent); len(raw) > 0 && string(raw) != "null" {
		var c float64
		if json.Unmarshal(raw, &c) != nil {
			errs.Add("coverage_percent", "must be a number from 0 to 100, or null")
		} else {
			r.CoveragePercent = &c
		}
	}
	in.Executed = executedAt(&errs, b.ExecutedAt, now)
	r.Commit, r.Branch, r.Attempt = checkCommit(&errs, b.Commit), checkBranch(&errs, b.Branch), checkAttempt(&errs, b.Attempt)
	return in, errs.Err()
}

// head validates the fields every form has: test_id (optional),
// workflow_id and test_suite.
func head(errs *apperr.Collector, in *Input, testID, workflowID, suite *string) {
	if testID != nil {
		id, err := keys.ParseTestID(*testID)
		if err != nil {
			errs.Add("test_id", "must match %s", keys.TestIDPattern)
		}
		in.TestID, in.HasTestID = id, true
	}
	if workflowID == nil {
		errs.Add("workflow_id", "is required")
	} else if id, err := keys.ParseWorkflowID(*workflowID); err != nil {
		errs.Add("workflow_id", "must match %s", keys.WorkflowIDPattern)
	} else {
		in.WorkflowID = id
	}
	if suite == nil || *suite == "" || utf8.RuneCountInString(*suite) > MaxSuite {
		errs.Add("test_suite", "is required, 1 to %d characters", MaxSuite)
	} else {
		in.Result.TestSuite = *suite
	}
}

// executedAt reads an RFC 3339 time no more than MaxFuture ahead of now;
// missing means now.
func executedAt(errs *apperr.Collector, v *string, now time.Time) time.Time {
	if v == nil {
		return now
	}
	t, err := time.Parse(time.RFC3339Nano, *v)
	if err != nil {
		errs.Add("executed_at", "must be an RFC 3339 time")
		return now
	}
	if t.After(now.Add(MaxFuture)) {
		errs.Add("executed_at", "may be at most 5 minutes in the future")
	}
	return t
}

// ParseQuery validates the query of an XML or NDJSON upload: workflow_id
// and test_suite, and optionally test_id, coverage_percent, executed_at,
// commit, branch and attempt.
func ParseQuery(q url.Values, now time.Time) (Input, error) {
	var errs apperr.Collector
	var in Input
	opt := func(name string) *string {
		if !q.Has(name) {
			return nil
		}
		v := q.Get(name)
		return &v
	}
	head(&errs, &in, opt("test_id"), opt("workflow_id"), opt("test_suite"))
	if v := opt("coverage_percent"); v != nil {
		// A plain decimal: ParseFloat alone would also take NaN, Inf and
		// hexadecimal forms.
		c, err := strconv.ParseFloat(*v, 64)
		if err != nil || !decimal(*v) {
			errs.Add("coverage_percent", "must be a number from 0 to 100")
		} else {
			in.Result.CoveragePercent = &c
		}
	}
	in.Executed = executedAt(&errs, opt("executed_at"), now)
	r := &in.Result
	r.Commit, r.Branch = checkCommit(&errs, opt("commit")), checkBranch(&errs, opt("branch"))
	if v := opt("attempt"); v != nil {
		n, err := strconv.Atoi(*v)
		if err != nil {
			n = -1
		}
		r.Attempt = checkAttempt(&errs, &n)
	}
	return in, errs.Err()
}

// decimal reports whether s is a plain decimal number: digits, with an
// optional sign, point and exponent.
func decimal(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789+-.eE", c) {
			return false
		}
	}
	return true
}

// Check refuses a result whose numbers are out of range, whatever form it
// came in: every count from 0 to MaxCount, a finite duration from 0 to
// MaxDurationSeconds (a report whose times add up to more is refused), and
// coverage finite, from 0 to 100. So every stored result reads back.
func (in *Input) Check() error {
	var errs apperr.Collector
	r := &in.Result
	for _, c := range []struct {
		name string
		v    int64
	}{{"passed", r.Passed}, {"failed", r.Failed}, {"skipped", r.Skipped}} {
		if c.v < 0 || c.v > MaxCount {
			errs.Add(c.name, "must be an integer from 0 to %d", MaxCount)
		}
	}
	if d := r.DurationSeconds; !(d >= 0 && d <= MaxDurationSeconds) { // NaN fails both
		errs.Add("duration_seconds", "must be a number from 0 to %d (the report's times add up to %g)", MaxDurationSeconds, d)
	}
	if c := r.CoveragePercent; c != nil && !(*c >= 0 && *c <= 100) {
		errs.Add("coverage_percent", "must be a number from 0 to 100")
	}
	for i, f := range r.FailureDetails {
		if f.Line != nil && (*f.Line < 0 || *f.Line > MaxLine) {
			errs.Add("failure_details["+strconv.Itoa(i)+"].line", "must be from 0 to %d", MaxLine)
		}
	}
	return errs.Err()
}

// Finish fills in the stored form: the test id, the executed_at text.
func (in *Input) Finish() {
	if !in.HasTestID {
		in.TestID = keys.NewTestID()
	}
	in.Result.TestID = in.TestID.String()
	in.Result.WorkflowID = in.WorkflowID.String()
	in.Result.ExecutedAt = jsondoc.FormatTime(in.Executed)
	if in.Result.FailureDetails == nil {
		in.Result.FailureDetails = []FailureDetail{}
	}
}

// ParseReport validates an uploaded report of POST /api/results: go test
// -json output when goTestJSON, else a JUnit XML report, with the run's
// fields (workflow_id, test_suite, commit, ...) in q.
func ParseReport(goTestJSON bool, report io.Reader, q url.Values, now time.Time) (Input, error) {
	in, err := ParseQuery(q, now)
	if err != nil {
		return in, err
	}
	var rep Report
	if goTestJSON {
		rep, err = ParseGoTest(report)
	} else {
		rep, err = ParseJUnit(report)
	}
	if err != nil {
		return in, err
	}
	in.Result.Passed, in.Result.Failed, in.Result.Skipped = rep.Passed, rep.Failed, rep.Skipped
	in.Result.DurationSeconds, in.Result.FailureDetails, in.Cases = rep.DurationSeconds, rep.Failures, rep.Cases
	return in, in.Check()
}

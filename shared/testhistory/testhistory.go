// Package testhistory is the per-test history of the failure memory: the
// outcome of each test in each run, kept for the last MaxRuns runs and
// KeepFor, and the rules that tell a flaky test from a broken one.
package testhistory

import (
	"context"
	"sort"
	"time"

	"github.com/ai-rails/state-service/shared/keys"
)

// The history's bounds.
const (
	// MaxRuns is how many runs of a test its history keeps.
	MaxRuns = 200
	// KeepFor is how long a run stays in the histories.
	KeepFor = 30 * 24 * time.Hour
	// Window is how many of a test's latest runs the flaky rules read.
	Window = 50
)

// Run is one run of one test, as GET /api/tests/history lists it.
type Run struct {
	WorkflowID      string   `json:"workflow_id"`
	Commit          *string  `json:"commit"`
	Attempt         *int     `json:"attempt"`
	Outcome         string   `json:"outcome"`
	DurationSeconds *float64 `json:"duration_seconds"`
	At              string   `json:"at"`
	// AtTime is At as a time, for the rules.
	AtTime time.Time `json:"-"`
}

// HistoryQuery is one page of a test's history to read.
type HistoryQuery struct {
	Suite, Test string
	Limit       int
	Cursor      string
}

// HistoryPage is a page of a test's runs, newest first.
type HistoryPage struct {
	TestSuite  string  `json:"test_suite"`
	Test       string  `json:"test"`
	Items      []Run   `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// FlakyQuery asks for the flaky tests of a suite, optionally only over one
// workflow's runs.
type FlakyQuery struct {
	Suite    string
	Workflow *keys.WorkflowID
	Limit    int
	Cursor   string
}

// Reasons a test is flaky.
const (
	ReasonSameCommit = "same-commit"
	ReasonFlipRate   = "flip-rate"
)

// Flaky is one flaky test, with the figures of its window.
type Flaky struct {
	Test      string  `json:"test"`
	TestSuite string  `json:"test_suite"`
	Runs      int     `json:"runs"`
	Failures  int     `json:"failures"`
	Flips     int     `json:"flips"`
	Score     float64 `json:"score"`
	Reason    string  `json:"reason"`
	FirstSeen string  `json:"first_seen"`
	LastSeen  string  `json:"last_seen"`
}

// FlakyPage is a page of flaky tests, highest score first.
type FlakyPage struct {
	Items      []Flaky `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// Rules are the thresholds of the flip-rate rule.
type Rules struct {
	// MinRuns is the fewest runs the flip-rate rule judges (FLAKY_MIN_RUNS).
	MinRuns int
	// FlipRate is the score at or above which a test is flaky
	// (FLAKY_FLIP_RATE).
	FlipRate float64
}

// DefaultRules are the contract's defaults.
var DefaultRules = Rules{MinRuns: 10, FlipRate: 0.2}

// Judge reads a test's runs, newest first, and says whether it is flaky.
// Skipped runs do not count. Over the latest Window runs that passed or
// failed:
//   - runs, failures, and flips (how often the outcome changed from one run
//     to the next, oldest to newest), and score = flips ÷ (runs − 1);
//   - a test that passed and failed on one commit is flaky: same-commit;
//   - otherwise, when no run in the window names a commit, a test of at
//     least MinRuns runs whose score is at least FlipRate is flaky:
//     flip-rate.
//
// A test that fails on every run since a commit, or that changed outcome
// only between commits, is broken or fixed, not flaky.
func (r Rules) Judge(suite, test string, newestFirst []Run) (Flaky, bool) {
	var window []Run
	for _, run := range newestFirst {
		if run.Outcome == "passed" || run.Outcome == "failed" {
			window = append(window, run)
			if len(window) == Window {
				break
			}
		}
	}
	if len(window) < 2 {
		return Flaky{}, false
	}
	f := Flaky{Test: test, TestSuite: suite, Runs: len(window), LastSeen: window[0].At, FirstSeen: window[len(window)-1].At}
	seen := map[string]uint8{} // commit → 1 passed | 2 failed
	sameCommit, anyCommit := false, false
	for i, run := range window {
		bit := uint8(1)
		if run.Outcome == "failed" {
			f.Failures++
			bit = 2
		}
		if i > 0 && run.Outcome != window[i-1].Outcome {
			f.Flips++
		}
		if run.Commit != nil {
			anyCommit = true
			seen[*run.Commit] |= bit
			sameCommit = sameCommit || seen[*run.Commit] == 3
		}
	}
	f.Score = float64(f.Flips) / float64(f.Runs-1)
	switch {
	case sameCommit:
		f.Reason = ReasonSameCommit
	case !anyCommit && f.Runs >= r.MinRuns && f.Score >= r.FlipRate:
		f.Reason = ReasonFlipRate
	default:
		return Flaky{}, false
	}
	return f, true
}

// Sort orders flaky tests by score, highest first, then by test name.
func Sort(items []Flaky) {
	sort.Slice(items, func(i, j int) bool { return Less(items[i], items[j]) })
}

// Less is Sort's order.
func Less(a, b Flaky) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	return a.Test < b.Test
}

// Service reads the histories; the results store writes them.
type Service interface {
	History(ctx context.Context, q HistoryQuery) (HistoryPage, error)
	Flaky(ctx context.Context, q FlakyQuery) (FlakyPage, error)
}

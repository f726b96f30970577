// Package results is the test results of API.md: runs stored from JSON,
// JUnit XML or `go test -json` output, listed newest first with a summary.
package results

import (
	"time"
)

// Limits of API.md.
const (
	MaxFailureDetails = 1000
	MaxMessageBytes   = 8 << 10
	MaxSuite          = 256
	MaxFuture         = 5 * time.Minute
	// MaxCount bounds passed, failed and skipped, so that sums over a
	// workflow's runs stay exact.
	MaxCount = 1_000_000_000
	// MaxDurationSeconds bounds a run's duration: a year.
	MaxDurationSeconds = 365 * 24 * 3600
	// MaxLine bounds a failure's line number.
	MaxLine = 1_000_000_000
)

// FailureDetail is one failed test.
type FailureDetail struct {
	Test    string  `json:"test"`
	Message string  `json:"message"`
	File    *string `json:"file,omitempty"`
	Line    *int    `json:"line,omitempty"`
}

// TestResults is one run's results, the planning document's model. The
// field order is the stored document's.
type TestResults struct {
	TestID          string          `json:"test_id"`
	WorkflowID      string          `json:"workflow_id"`
	TestSuite       string          `json:"test_suite"`
	Passed          int64           `json:"passed"`
	Failed          int64           `json:"failed"`
	Skipped         int64           `json:"skipped"`
	DurationSeconds float64         `json:"duration_seconds"`
	FailureDetails  []FailureDetail `json:"failure_details"`
	CoveragePercent *float64        `json:"coverage_percent"`
	ExecutedAt      string          `json:"executed_at"`
	Commit          *string         `json:"commit"`
	Branch          *string         `json:"branch"`
	Attempt         *int            `json:"attempt"`
}

// Summary sums the runs a workflow keeps.
type Summary struct {
	Runs         int64    `json:"runs"`
	Passed       int64    `json:"passed"`
	Failed       int64    `json:"failed"`
	Skipped      int64    `json:"skipped"`
	PassRate     *float64 `json:"pass_rate"`
	LatestTestID *string  `json:"latest_test_id"`
}

// Page is one page of a workflow's results, with the summary.
type Page struct {
	Items      []TestResults `json:"items"`
	NextCursor *string       `json:"next_cursor"`
	Summary    Summary       `json:"summary"`
}

package servicetest

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Problem checks that a answers status with the problem type slug.
func Problem(t testing.TB, a Answer, status int, slug string) {
	t.Helper()
	require.Equal(t, status, a.Status, "%s", a.Raw)
	assert.Equal(t, "urn:ai-rails:problem:"+slug, a.Body["type"], "%s", a.Raw)
}

// StoreRun stores one run of suite "unit" for wf, with its cases and commit
// (none when empty), requires it stored, and moves the clock a minute on,
// so that the next run is later. It returns the answer's body.
func (e *Env) StoreRun(wf, commit string, cases ...any) map[string]any {
	e.T.Helper()
	body := map[string]any{"workflow_id": wf, "test_suite": "unit", "cases": cases}
	if commit != "" {
		body["commit"] = commit
	}
	a := e.Do(Req{Method: "POST", Path: "/api/results", Body: body})
	require.Equal(e.T, http.StatusCreated, a.Status, "%s", a.Raw)
	e.Clock.Advance(time.Minute)
	return a.Body
}

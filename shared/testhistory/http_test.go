package testhistory_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/wiring"
)

type req = servicetest.Req

// ingest stores one run of suite unit with the outcomes by test name.
func ingest(e *servicetest.Env, wf, commit string, outcomes map[string]string) {
	var cases []any
	for name, o := range outcomes {
		cases = append(cases, map[string]any{"name": name, "outcome": o, "message": "boom"})
	}
	e.StoreRun(wf, commit, cases...)
}

func TestFlakyTests(t *testing.T) {
	servicetest.ForEachBackend(t, func(t *testing.T, e *servicetest.Env) {
		// With commits: "racy" passed and failed on one commit; "broken"
		// passed on c1 and fails since c2; "fixed" failed on c1 and passes
		// since c2.
		for i, commit := range []string{"c1c1c1c", "c1c1c1c", "c2c2c2c", "c2c2c2c", "c3c3c3c"} {
			racy := "passed"
			if i == 1 {
				racy = "failed"
			}
			broken, fixed := "failed", "passed"
			if commit == "c1c1c1c" {
				broken, fixed = "passed", "failed"
			}
			ingest(e, "ABC-000001", commit, map[string]string{"racy": racy, "broken": broken, "fixed": fixed, "steady": "passed"})
		}
		// Without commits: "flip" alternates over 12 runs; "once" failed
		// once in 12; "short" alternates over 4 runs only.
		for i := range 12 {
			flip, once := "passed", "passed"
			if i%2 == 1 {
				flip = "failed"
			}
			if i == 5 {
				once = "failed"
			}
			o := map[string]string{"flip": flip, "once": once}
			if i < 4 {
				o["short"] = flip
			}
			ingest(e, "ABC-000002", "", o)
		}

		a := e.Do(req{Method: "GET", Path: "/api/tests/flaky?test_suite=unit"})
		require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
		items := a.Body["items"].([]any)
		require.Len(t, items, 2, "%s", a.Raw)
		flip := items[0].(map[string]any)
		assert.Equal(t, map[string]any{"test": "flip", "test_suite": "unit", "runs": float64(12), "failures": float64(6),
			"flips": float64(11), "score": float64(1), "reason": "flip-rate",
			"first_seen": "2026-11-26T10:05:00.000000000Z", "last_seen": "2026-11-26T10:16:00.000000000Z"}, flip)
		racy := items[1].(map[string]any)
		assert.Equal(t, "racy", racy["test"])
		assert.Equal(t, "same-commit", racy["reason"])
		assert.Equal(t, float64(5), racy["runs"])
		assert.Equal(t, float64(2), racy["flips"])
		assert.Equal(t, 0.5, racy["score"])
		assert.Nil(t, a.Body["next_cursor"])

		// Paged, and one workflow's runs only.
		p1 := e.Do(req{Method: "GET", Path: "/api/tests/flaky?test_suite=unit&limit=1"})
		require.Len(t, p1.Body["items"], 1)
		p2 := e.Do(req{Method: "GET", Path: "/api/tests/flaky?test_suite=unit&limit=1&cursor=" + url.QueryEscape(p1.Body["next_cursor"].(string))})
		require.Len(t, p2.Body["items"], 1)
		assert.Equal(t, "racy", p2.Body["items"].([]any)[0].(map[string]any)["test"])
		assert.Nil(t, p2.Body["next_cursor"])
		w := e.Do(req{Method: "GET", Path: "/api/tests/flaky?test_suite=unit&workflow_id=ABC-000001"})
		require.Len(t, w.Body["items"], 1)
		assert.Equal(t, "racy", w.Body["items"].([]any)[0].(map[string]any)["test"])

		none := e.Do(req{Method: "GET", Path: "/api/tests/flaky?test_suite=other"})
		require.Equal(t, http.StatusOK, none.Status)
		assert.Equal(t, []any{}, none.Body["items"])
	})
}

// FLAKY_MIN_RUNS and FLAKY_FLIP_RATE set the flip-rate rule.
func TestFlakyThresholdsAreSettings(t *testing.T) {
	servicetest.ForEachBackendWith(t, func(c *config.Config, _ *wiring.Options) {
		c.Memory.FlakyMinRuns, c.Memory.FlakyFlipRate = 3, 0.9
	}, func(t *testing.T, e *servicetest.Env) {
		for i := range 4 {
			o := map[string]string{"alternates": "passed", "twice": "passed"}
			if i%2 == 1 {
				o["alternates"] = "failed"
			}
			if i == 2 {
				o["twice"] = "failed"
			}
			ingest(e, "ABC-000001", "", o)
		}
		a := e.Do(req{Method: "GET", Path: "/api/tests/flaky?test_suite=unit"})
		require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
		require.Len(t, a.Body["items"], 1, "%s", a.Raw)
		assert.Equal(t, "alternates", a.Body["items"].([]any)[0].(map[string]any)["test"])
	})
}

// A test that stops running leaves its suite's histories once its runs have
// left the window: later runs prune it a few tests at a time.
func TestTestsThatStopRunningArePruned(t *testing.T) {
	servicetest.ForEachBackend(t, func(t *testing.T, e *servicetest.Env) {
		ingest(e, "ABC-000001", "", map[string]string{"renamed": "passed", "kept": "passed"})
		e.Clock.Advance(31 * 24 * time.Hour)
		ingest(e, "ABC-000001", "", map[string]string{"kept": "failed"})
		fields, err := upstash.Strings(e.Client.Do(context.Background(), "HKEYS", e.Keys.TestHistories("unit")))
		require.NoError(t, err)
		assert.Equal(t, []string{"kept"}, fields)
		h := e.Do(req{Method: "GET", Path: "/api/tests/history?test_suite=unit&test=kept"})
		require.Len(t, h.Body["items"], 1, "the old run has left the window")
		h = e.Do(req{Method: "GET", Path: "/api/tests/history?test_suite=unit&test=renamed"})
		assert.Equal(t, []any{}, h.Body["items"])
	})
}

// A test whose classname and name are both long is read back by its full
// name.
func TestLongTestNames(t *testing.T) {
	servicetest.ForEachBackend(t, func(t *testing.T, e *servicetest.Env) {
		class, name := strings.Repeat("c", 1000), strings.Repeat("n", 1000)
		a := e.Do(req{Method: "POST", Path: "/api/results", Body: map[string]any{"workflow_id": "ABC-000001", "test_suite": "unit",
			"cases": []any{map[string]any{"name": name, "classname": class, "outcome": "passed"}}}})
		require.Equal(t, http.StatusCreated, a.Status, "%s", a.Raw)
		h := e.Do(req{Method: "GET", Path: "/api/tests/history?test_suite=unit&test=" + class + "." + name})
		require.Equal(t, http.StatusOK, h.Status, "%s", h.Raw)
		assert.Len(t, h.Body["items"], 1)
	})
}

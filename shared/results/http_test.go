package results_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/results"
	"github.com/ai-rails/state-service/shared/servicetest"
)

type req = servicetest.Req

const wf = "ABC-123456"

func each(t *testing.T, fn func(t *testing.T, e *servicetest.Env)) {
	servicetest.ForEachBackend(t, fn)
}

var problem = servicetest.Problem

func run(extra map[string]any) map[string]any {
	b := map[string]any{"workflow_id": wf, "test_suite": "unit", "passed": 10, "failed": 1, "skipped": 0, "duration_seconds": 3.2,
		"failure_details":  []any{map[string]any{"test": "TestLogin", "message": "expected 200", "file": "login_test.go", "line": 12}},
		"coverage_percent": 87.5, "executed_at": "2026-11-26T09:58:00Z"}
	for k, v := range extra {
		if v == "-" {
			delete(b, k)
		} else {
			b[k] = v
		}
	}
	return b
}

func TestStoreAndRead(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		a := e.Do(req{Method: "POST", Path: "/api/results", Body: run(map[string]any{"test_id": "run-42"})})
		require.Equal(t, http.StatusCreated, a.Status, "%s", a.Raw)
		assert.Equal(t, "/api/results/run-42", a.Header.Get("Location"))
		assert.Equal(t, map[string]any{
			"test_id": "run-42", "workflow_id": wf, "test_suite": "unit", "passed": float64(10), "failed": float64(1), "skipped": float64(0),
			"duration_seconds": 3.2, "coverage_percent": 87.5, "executed_at": "2026-11-26T09:58:00.000000000Z",
			"failure_details": []any{map[string]any{"test": "TestLogin", "message": "expected 200", "file": "login_test.go", "line": float64(12)}},
			"commit":          nil, "branch": nil, "attempt": nil,
		}, a.Body)
		id, _ := keys.ParseTestID("run-42")
		assert.InDelta(t, (7 * 24 * time.Hour).Seconds(), e.PTTL(e.Keys.TestResult(id)).Seconds(), 2)

		g := e.Do(req{Method: "GET", Path: "/api/results/run-42"})
		assert.Equal(t, http.StatusOK, g.Status)
		assert.Equal(t, a.Body, g.Body)

		// A duplicate test_id: 409, and the first stays.
		before := e.Snapshot()
		problem(t, e.Do(req{Method: "POST", Path: "/api/results", Body: run(map[string]any{"test_id": "run-42", "passed": 0})}), http.StatusConflict, "conflict")
		assert.Equal(t, before, e.Snapshot())

		// Without a test_id, one is minted; without executed_at, it is now.
		m := e.Do(req{Method: "POST", Path: "/api/results", Body: run(map[string]any{"executed_at": "-", "coverage_percent": nil, "failure_details": "-"})})
		require.Equal(t, http.StatusCreated, m.Status, "%s", m.Raw)
		assert.Regexp(t, `^[0-9a-f-]{36}$`, m.Body["test_id"])
		assert.Equal(t, "2026-11-26T10:00:00.000000000Z", m.Body["executed_at"])
		assert.Nil(t, m.Body["coverage_percent"])
		assert.Equal(t, []any{}, m.Body["failure_details"])
	})
}

// commit, branch and attempt come in the JSON body or in a report's query,
// and cases stand in for the counts, the duration and the failures.
func TestRunContextAndCases(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		a := e.Do(req{Method: "POST", Path: "/api/results", Body: map[string]any{"workflow_id": wf, "test_suite": "unit",
			"commit": "ABCDEF1234", "branch": "feature/login-v2", "attempt": 2,
			"cases": []any{
				map[string]any{"name": "test_ok", "classname": "tests.login", "outcome": "passed", "duration_seconds": 0.25},
				map[string]any{"name": "test_bad", "classname": "tests.login", "outcome": "failed", "duration_seconds": 1.5,
					"message": "AssertionError: 500 != 401", "file": "tests/login.py", "line": 40},
				map[string]any{"name": "TestSkip", "outcome": "skipped"},
			}}})
		require.Equal(t, http.StatusCreated, a.Status, "%s", a.Raw)
		assert.Equal(t, "abcdef1234", a.Body["commit"])
		assert.Equal(t, "feature/login-v2", a.Body["branch"])
		assert.Equal(t, float64(2), a.Body["attempt"])
		assert.Equal(t, []any{float64(1), float64(1), float64(1)}, []any{a.Body["passed"], a.Body["failed"], a.Body["skipped"]})
		assert.Equal(t, 1.75, a.Body["duration_seconds"])
		assert.Equal(t, []any{map[string]any{"test": "tests.login.test_bad", "message": "AssertionError: 500 != 401", "file": "tests/login.py", "line": float64(40)}},
			a.Body["failure_details"])

		// Counts given alongside cases win, as long as they hold the cases.
		b := e.Do(req{Method: "POST", Path: "/api/results", Body: map[string]any{"workflow_id": wf, "test_suite": "unit", "passed": 5, "duration_seconds": 9,
			"failure_details": []any{}, "cases": []any{map[string]any{"name": "a", "outcome": "failed"}}}})
		require.Equal(t, http.StatusCreated, b.Status, "%s", b.Raw)
		assert.Equal(t, []any{float64(5), float64(1), float64(0), float64(9)}, []any{b.Body["passed"], b.Body["failed"], b.Body["skipped"], b.Body["duration_seconds"]})
		assert.Equal(t, []any{}, b.Body["failure_details"])

		xml, err := os.ReadFile(filepath.Join("testdata", "junit", "surefire.xml"))
		require.NoError(t, err)
		q := e.Do(req{Method: "POST", Path: "/api/results?workflow_id=" + wf + "&test_suite=java&commit=0123456789abcdef0123456789abcdef01234567&branch=main&attempt=1",
			Body: string(xml), Header: map[string]string{"Content-Type": "application/xml"}})
		require.Equal(t, http.StatusCreated, q.Status, "%s", q.Raw)
		assert.Equal(t, "0123456789abcdef0123456789abcdef01234567", q.Body["commit"])
		assert.Equal(t, "main", q.Body["branch"])
		assert.Equal(t, float64(1), q.Body["attempt"])
		for _, bad := range []string{"commit=xyz1234", "branch=a%20b", "attempt=0", "attempt=two", "attempt=101"} {
			before := e.Snapshot()
			problem(t, e.Do(req{Method: "POST", Path: "/api/results?workflow_id=" + wf + "&test_suite=java&" + bad,
				Body: string(xml), Header: map[string]string{"Content-Type": "application/xml"}}), http.StatusBadRequest, "validation")
			assert.Equal(t, before, e.Snapshot(), bad)
		}
	})
}

func TestUploads(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		xml, err := os.ReadFile(filepath.Join("testdata", "junit", "pytest.xml"))
		require.NoError(t, err)
		for _, ct := range []string{"application/xml", "text/xml; charset=utf-8"} {
			a := e.Do(req{Method: "POST", Path: "/api/results?workflow_id=" + wf + "&test_suite=pytest&coverage_percent=91", Body: string(xml),
				Header: map[string]string{"Content-Type": ct}})
			require.Equal(t, http.StatusCreated, a.Status, "%s", a.Raw)
			assert.Equal(t, float64(1), a.Body["passed"])
			assert.Equal(t, float64(2), a.Body["failed"])
			assert.Equal(t, float64(1), a.Body["skipped"])
			assert.Equal(t, 0.412, a.Body["duration_seconds"])
			assert.Equal(t, float64(91), a.Body["coverage_percent"])
			assert.Equal(t, "pytest", a.Body["test_suite"])
			assert.Len(t, a.Body["failure_details"], 2)
		}
		nd, err := os.ReadFile(filepath.Join("testdata", "gotest", "capture.ndjson"))
		require.NoError(t, err)
		a := e.Do(req{Method: "POST", Path: "/api/results?workflow_id=" + wf + "&test_suite=go&test_id=go-run-1", Body: string(nd),
			Header: map[string]string{"Content-Type": "application/x-ndjson"}})
		require.Equal(t, http.StatusCreated, a.Status, "%s", a.Raw)
		assert.Equal(t, "go-run-1", a.Body["test_id"])
		assert.Equal(t, float64(2), a.Body["passed"])
		assert.Equal(t, float64(3), a.Body["failed"])

		for name, r := range map[string]req{
			"no suite":   {Method: "POST", Path: "/api/results?workflow_id=" + wf, Body: string(xml), Header: map[string]string{"Content-Type": "application/xml"}},
			"no wf":      {Method: "POST", Path: "/api/results?test_suite=x", Body: string(xml), Header: map[string]string{"Content-Type": "application/xml"}},
			"bad xml":    {Method: "POST", Path: "/api/results?workflow_id=" + wf + "&test_suite=x", Body: "<testsuite><oops>", Header: map[string]string{"Content-Type": "application/xml"}},
			"bad ndjson": {Method: "POST", Path: "/api/results?workflow_id=" + wf + "&test_suite=x", Body: "PASS\nok\n", Header: map[string]string{"Content-Type": "application/x-ndjson"}},
			"bad cov":    {Method: "POST", Path: "/api/results?workflow_id=" + wf + "&test_suite=x&coverage_percent=101", Body: string(xml), Header: map[string]string{"Content-Type": "application/xml"}},
		} {
			before := e.Snapshot()
			problem(t, e.Do(r), http.StatusBadRequest, "validation")
			assert.Equal(t, before, e.Snapshot(), name)
		}
		problem(t, e.Do(req{Method: "POST", Path: "/api/results?workflow_id=" + wf + "&test_suite=x", Body: "x", Header: map[string]string{"Content-Type": "text/plain"}}), 415, "unsupported-media-type")
		big := "<testsuite>" + strings.Repeat(`<testcase name="a"/>`, 20000) + "</testsuite>"
		problem(t, e.Do(req{Method: "POST", Path: "/api/results?workflow_id=" + wf + "&test_suite=x", Body: big, Header: map[string]string{"Content-Type": "application/xml"}}), 413, "too-large")
	})
}

func TestValidation(t *testing.T) {
	manyBad := make([]any, 30)
	for i := range manyBad {
		manyBad[i] = map[string]any{"message": "m"}
	}
	many := make([]any, 1001)
	for i := range many {
		many[i] = map[string]any{"test": "t", "message": "m"}
	}
	cases := map[string]struct {
		body  any
		field string
	}{
		"negative passed":      {run(map[string]any{"passed": -1}), "passed"},
		"fractional failed":    {run(map[string]any{"failed": 1.5}), "failed"},
		"missing skipped":      {run(map[string]any{"skipped": "-"}), "skipped"},
		"negative duration":    {run(map[string]any{"duration_seconds": -0.1}), "duration_seconds"},
		"coverage over 100":    {run(map[string]any{"coverage_percent": 100.5}), "coverage_percent"},
		"coverage below 0":     {run(map[string]any{"coverage_percent": -1}), "coverage_percent"},
		"coverage as text":     {run(map[string]any{"coverage_percent": "87"}), "coverage_percent"},
		"in the future":        {run(map[string]any{"executed_at": "2026-11-26T10:05:01Z"}), "executed_at"},
		"not a time":           {run(map[string]any{"executed_at": "yesterday"}), "executed_at"},
		"bad test id":          {run(map[string]any{"test_id": "-run"}), "test_id"},
		"long test id":         {run(map[string]any{"test_id": strings.Repeat("a", 65)}), "test_id"},
		"bad workflow":         {run(map[string]any{"workflow_id": "abc"}), "workflow_id"},
		"no workflow":          {run(map[string]any{"workflow_id": "-"}), "workflow_id"},
		"missing suite":        {run(map[string]any{"test_suite": "-"}), "test_suite"},
		"empty suite":          {run(map[string]any{"test_suite": ""}), "test_suite"},
		"too many failures":    {run(map[string]any{"failure_details": many}), "failure_details"},
		"long message":         {run(map[string]any{"failure_details": []any{map[string]any{"test": "t", "message": strings.Repeat("m", 8193)}}}), "failure_details[0].message"},
		"failure without test": {run(map[string]any{"failure_details": []any{map[string]any{"message": "m"}}}), "failure_details[0].test"},
		"unknown field":        {run(map[string]any{"flaky": 2}), "flaky"},
		"long file":            {run(map[string]any{"failure_details": []any{map[string]any{"test": "t", "message": "m", "file": strings.Repeat("f", 1025)}}}), "failure_details[0].file"},
		"negative line":        {run(map[string]any{"failure_details": []any{map[string]any{"test": "t", "message": "m", "line": -1}}}), "failure_details[0].line"},
		"many bad failures":    {run(map[string]any{"failure_details": manyBad}), "failure_details[0].test"},
		"unknown in failure":   {run(map[string]any{"failure_details": []any{map[string]any{"test": "t", "message": "m", "col": 3}}}), "failure_details[0].col"},
		"short commit":         {run(map[string]any{"commit": "abc12"}), "commit"},
		"long commit":          {run(map[string]any{"commit": strings.Repeat("a", 41)}), "commit"},
		"commit not hex":       {run(map[string]any{"commit": "abcdefg"}), "commit"},
		"branch with space":    {run(map[string]any{"branch": "my branch"}), "branch"},
		"branch with dots":     {run(map[string]any{"branch": "a..b"}), "branch"},
		"branch .lock":         {run(map[string]any{"branch": "feature/x.lock"}), "branch"},
		"branch too long":      {run(map[string]any{"branch": strings.Repeat("b", 256)}), "branch"},
		"branch empty":         {run(map[string]any{"branch": ""}), "branch"},
		"attempt 0":            {run(map[string]any{"attempt": 0}), "attempt"},
		"attempt 101":          {run(map[string]any{"attempt": 101}), "attempt"},
		"case without name":    {run(map[string]any{"cases": []any{map[string]any{"outcome": "passed"}}}), "cases[0].name"},
		"case bad outcome":     {run(map[string]any{"cases": []any{map[string]any{"name": "a", "outcome": "error"}}}), "cases[0].outcome"},
		"case control char":    {run(map[string]any{"cases": []any{map[string]any{"name": "a\nb", "outcome": "passed"}}}), "cases[0].name"},
		"case long class":      {run(map[string]any{"cases": []any{map[string]any{"name": "a", "classname": strings.Repeat("c", 1025), "outcome": "passed"}}}), "cases[0].classname"},
		"case negative time":   {run(map[string]any{"cases": []any{map[string]any{"name": "a", "outcome": "passed", "duration_seconds": -1}}}), "cases[0].duration_seconds"},
		"case unknown field":   {run(map[string]any{"cases": []any{map[string]any{"name": "a", "outcome": "passed", "retries": 1}}}), "cases[0].retries"},
		"fewer than the cases": {run(map[string]any{"passed": 0, "cases": []any{map[string]any{"name": "a", "outcome": "passed"}}}), "passed"},
		"too many cases":       {run(map[string]any{"cases": make([]any, 5001)}), "cases"},
	}
	each(t, func(t *testing.T, e *servicetest.Env) {
		for name, tc := range cases {
			t.Run(name, func(t *testing.T) {
				before := e.Snapshot()
				a := e.Do(req{Method: "POST", Path: "/api/results", Body: tc.body})
				problem(t, a, http.StatusBadRequest, "validation")
				errs, _ := a.Body["errors"].([]any)
				require.NotEmpty(t, errs, "%s", a.Raw)
				assert.Equal(t, tc.field, errs[0].(map[string]any)["field"])
				assert.Equal(t, before, e.Snapshot())
			})
		}
		// Thirty bad failures do not make thirty errors: the list stops.
		a := e.Do(req{Method: "POST", Path: "/api/results", Body: run(map[string]any{"failure_details": manyBad})})
		problem(t, a, http.StatusBadRequest, "validation")
		assert.LessOrEqual(t, len(a.Body["errors"].([]any)), 21)
		problem(t, e.Do(req{Method: "GET", Path: "/api/results/-bad"}), 400, "validation")
		problem(t, e.Do(req{Method: "GET", Path: "/api/results/nope"}), 404, "not-found")
		problem(t, e.Do(req{Method: "GET", Path: "/api/results"}), 400, "validation")
		problem(t, e.Do(req{Method: "GET", Path: "/api/results?workflow_id=" + wf + "&limit=0"}), 400, "validation")
		problem(t, e.Do(req{Method: "GET", Path: "/api/results?workflow_id=" + wf + "&cursor=zz"}), 400, "validation")
	})
}

func TestListAndSummary(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		empty := e.Do(req{Method: "GET", Path: "/api/results?workflow_id=" + wf})
		require.Equal(t, http.StatusOK, empty.Status, "%s", empty.Raw)
		assert.Equal(t, map[string]any{"runs": float64(0), "passed": float64(0), "failed": float64(0), "skipped": float64(0),
			"pass_rate": nil, "latest_test_id": nil}, empty.Body["summary"])

		for i := range 5 {
			e.Do(req{Method: "POST", Path: "/api/results", Body: run(map[string]any{"test_id": fmt.Sprintf("run-%d", i),
				"passed": 10 + i, "failed": i % 2, "skipped": 1, "executed_at": fmt.Sprintf("2026-11-26T09:5%d:00Z", i)})})
		}
		e.Do(req{Method: "POST", Path: "/api/results", Body: run(map[string]any{"test_id": "other", "workflow_id": "XYZ-000001"})})

		var ids []string
		cursor := ""
		for {
			path := "/api/results?limit=2&workflow_id=" + wf
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			a := e.Do(req{Method: "GET", Path: path})
			require.Equal(t, http.StatusOK, a.Status, "%s", a.Raw)
			for _, it := range a.Body["items"].([]any) {
				ids = append(ids, it.(map[string]any)["test_id"].(string))
			}
			s := a.Body["summary"].(map[string]any)
			assert.Equal(t, float64(5), s["runs"])
			assert.Equal(t, float64(60), s["passed"])
			assert.Equal(t, float64(2), s["failed"])
			assert.Equal(t, float64(5), s["skipped"])
			assert.InDelta(t, 60.0/62.0, s["pass_rate"], 1e-9)
			assert.Equal(t, "run-4", s["latest_test_id"])
			if a.Body["next_cursor"] == nil {
				break
			}
			cursor = a.Body["next_cursor"].(string)
		}
		assert.Equal(t, []string{"run-4", "run-3", "run-2", "run-1", "run-0"}, ids, "newest executed_at first")

		before := e.Client.Stats().RoundTrips
		e.Do(req{Method: "GET", Path: "/api/results?workflow_id=" + wf})
		assert.Equal(t, uint64(1), e.Client.Stats().RoundTrips-before, "the page and the summary in one round trip")
	})
}

// Numbers that are not finite, or out of range, in any upload form, are
// refused with 400 and write nothing; the workflow's results still list.
func TestNonFiniteNumbersAreRefused(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		q := "/api/results?workflow_id=" + wf + "&test_suite=x"
		xmlType := map[string]string{"Content-Type": "application/xml"}
		ndType := map[string]string{"Content-Type": "application/x-ndjson"}
		junit := `<testsuite><testcase name="a" time="1e308"/><testcase name="b" time="1e308"/></testsuite>`
		for name, r := range map[string]req{
			"NaN coverage":         {Method: "POST", Path: q + "&coverage_percent=NaN", Body: `<testsuite><testcase name="a"/></testsuite>`, Header: xmlType},
			"Inf coverage":         {Method: "POST", Path: q + "&coverage_percent=%2BInf", Body: `<testsuite><testcase name="a"/></testsuite>`, Header: xmlType},
			"hex coverage":         {Method: "POST", Path: q + "&coverage_percent=0x1p4", Body: `<testsuite><testcase name="a"/></testsuite>`, Header: xmlType},
			"JUnit times overflow": {Method: "POST", Path: q, Body: junit, Header: xmlType},
			"JUnit suite time":     {Method: "POST", Path: q, Body: `<testsuite time="1e300"><testcase name="a"/></testsuite>`, Header: xmlType},
			"go test overflow": {Method: "POST", Path: q, Header: ndType,
				Body: `{"Action":"pass","Package":"p","Test":"A","Elapsed":1e308}` + "\n" + `{"Action":"pass","Package":"p","Test":"B","Elapsed":1e308}`},
			"go test package time": {Method: "POST", Path: q, Header: ndType,
				Body: `{"Action":"pass","Package":"p","Elapsed":1e308}` + "\n" + `{"Action":"pass","Package":"q","Elapsed":1e308}`},
			"JSON huge duration": {Method: "POST", Path: "/api/results", Body: run(map[string]any{"duration_seconds": 1e300})},
			"JSON huge count":    {Method: "POST", Path: "/api/results", Body: run(map[string]any{"passed": int64(1) << 60})},
			"JSON huge line": {Method: "POST", Path: "/api/results", Body: run(map[string]any{
				"failure_details": []any{map[string]any{"test": "T", "message": "m", "line": int64(1) << 40}}})},
		} {
			before := e.Snapshot()
			problem(t, e.Do(r), http.StatusBadRequest, "validation")
			assert.Equal(t, before, e.Snapshot(), "%s wrote nothing", name)
		}
		l := e.Do(req{Method: "GET", Path: "/api/results?workflow_id=" + wf})
		require.Equal(t, http.StatusOK, l.Status, "%s", l.Raw)
		assert.Empty(t, l.Body["items"])
	})
}

// Whatever a write accepts, the reads parse: a property over the JSON form,
// with numbers drawn from the edges of their ranges and beyond.
func TestWhatIsStoredReadsBack(t *testing.T) {
	each(t, func(t *testing.T, e *servicetest.Env) {
		rapid.Check(t, func(rt *rapid.T) {
			num := rapid.OneOf(rapid.Float64(), rapid.Float64Range(0, 100), rapid.SampledFrom([]float64{0, 100, results.MaxDurationSeconds, 1e308, -0.0, 5e-324}))
			count := rapid.OneOf(rapid.Int64Range(0, results.MaxCount), rapid.Int64(), rapid.SampledFrom([]int64{0, results.MaxCount, results.MaxCount + 1}))
			body := run(map[string]any{
				"test_id":          rapid.StringMatching(`[a-z]{12}`).Draw(rt, "id"),
				"passed":           count.Draw(rt, "passed"),
				"failed":           count.Draw(rt, "failed"),
				"skipped":          count.Draw(rt, "skipped"),
				"duration_seconds": num.Draw(rt, "duration"),
				"coverage_percent": num.Draw(rt, "coverage"),
			})
			a := e.Do(req{Method: "POST", Path: "/api/results", Body: body})
			if a.Status != http.StatusCreated {
				require.Equal(rt, http.StatusBadRequest, a.Status, "%s", a.Raw)
				return
			}
			g := e.Do(req{Method: "GET", Path: "/api/results/" + body["test_id"].(string)})
			require.Equal(rt, http.StatusOK, g.Status, "%s", g.Raw)
			assert.Equal(rt, a.Body, g.Body)
			l := e.Do(req{Method: "GET", Path: "/api/results?workflow_id=" + wf + "&limit=1"})
			require.Equal(rt, http.StatusOK, l.Status, "%s", l.Raw)
		})
	})
}

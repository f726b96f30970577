package results

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/apperr"
)

type wantFailure struct {
	test, msgPrefix, file string
	line                  int
}

func checkFailures(t *testing.T, got []FailureDetail, want []wantFailure) {
	t.Helper()
	require.Len(t, got, len(want))
	for i, w := range want {
		assert.Equal(t, w.test, got[i].Test)
		assert.True(t, strings.HasPrefix(got[i].Message, w.msgPrefix), "message %q, want it to start %q", got[i].Message, w.msgPrefix)
		if w.file == "" {
			assert.Nil(t, got[i].File, w.test)
		} else if assert.NotNil(t, got[i].File, w.test) {
			assert.Equal(t, w.file, *got[i].File)
		}
		if w.line == 0 {
			assert.Nil(t, got[i].Line, w.test)
		} else if assert.NotNil(t, got[i].Line, w.test) {
			assert.Equal(t, w.line, *got[i].Line)
		}
	}
}

func TestJUnitGoldenFiles(t *testing.T) {
	cases := []struct {
		file                    string
		passed, failed, skipped int64
		duration                float64
		failures                []wantFailure
	}{
		{"pytest.xml", 1, 2, 1, 0.412, []wantFailure{
			{"tests.test_login.test_login_bad_password", "AssertionError: expected 401\nassert 500 == 401", "tests/test_login.py", 12},
			{"tests.test_login.test_login_db", `failed on setup with "fixture 'db' not found"`, "tests/test_login.py", 25},
		}},
		{"surefire.xml", 2, 1, 1, 0.187, []wantFailure{
			{"com.example.auth.LoginServiceTest.rejectsBadPassword", "expected: <401> but was: <500>\norg.opentest4j.AssertionFailedError", "", 0},
		}},
		{"jest-junit.xml", 2, 1, 1, 2.314, []wantFailure{
			{"login returns 401 for a bad password", "Error: expect(received).toBe(expected)", "src/login.test.js", 0},
		}},
		{"go-junit-report.xml", 2, 1, 1, 0.013, []wantFailure{
			{"example.com/demo/login.TestLoginBadPassword", "Failed\nlogin_test.go:27: status = 500, want 401", "login_test.go", 27},
		}},
		{"nested-wrong-counts.xml", 2, 1, 0, 2.0, []wantFailure{
			{"unit.b", "RuntimeError\nTraceback (most recent call last):", "", 0},
		}},
		{"bare-no-times.xml", 1, 1, 1, 0, []wantFailure{{"two", "", "", 0}}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", "junit", tc.file))
			require.NoError(t, err)
			defer f.Close()
			rep, err := ParseJUnit(f)
			require.NoError(t, err)
			assert.Equal(t, tc.passed, rep.Passed, "passed")
			assert.Equal(t, tc.failed, rep.Failed, "failed")
			assert.Equal(t, tc.skipped, rep.Skipped, "skipped")
			assert.InDelta(t, tc.duration, rep.DurationSeconds, 1e-9, "duration")
			checkFailures(t, rep.Failures, tc.failures)
		})
	}
}

func TestJUnitRefusals(t *testing.T) {
	deep := strings.Repeat("<testsuite>", MaxDepth+1) + strings.Repeat("</testsuite>", MaxDepth+1)
	for name, body := range map[string]string{
		"empty":        "",
		"not xml":      "this is not xml",
		"wrong root":   `<html><body/></html>`,
		"unclosed":     `<testsuites><testsuite><testcase name="a">`,
		"mismatched":   `<testsuite><testcase name="a"></testsuite></testcase>`,
		"case in case": `<testsuite><testcase name="a"><testcase name="b"/></testcase></testsuite>`,
		"too deep":     deep,
		"latin1":       `<?xml version="1.0" encoding="ISO-8859-1"?><testsuite/>`,
	} {
		_, err := ParseJUnit(strings.NewReader(body))
		assert.Error(t, err, name)
		assert.Equal(t, apperr.Validation, apperr.KindOf(err), name)
	}
}

func TestJUnitCapsFailures(t *testing.T) {
	var b strings.Builder
	b.WriteString("<testsuite>")
	for range MaxFailureDetails + 5 {
		b.WriteString(`<testcase name="x"><failure message="` + strings.Repeat("m", MaxMessageBytes+10) + `"/></testcase>`)
	}
	b.WriteString("</testsuite>")
	rep, err := ParseJUnit(strings.NewReader(b.String()))
	require.NoError(t, err)
	assert.Equal(t, int64(MaxFailureDetails+5), rep.Failed, "every failure counts")
	assert.Len(t, rep.Failures, MaxFailureDetails, "the details stop at the limit")
	assert.Len(t, rep.Failures[0].Message, MaxMessageBytes)
}

func TestGoTestCapture(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "gotest", "capture.ndjson"))
	require.NoError(t, err)
	defer f.Close()
	rep, err := ParseGoTest(f)
	require.NoError(t, err)
	assert.Equal(t, int64(2), rep.Passed, "TestPass and TestTable/ok")
	assert.Equal(t, int64(3), rep.Failed, "TestFail, TestTable/bad and TestTable")
	assert.Equal(t, int64(1), rep.Skipped)
	assert.InDelta(t, 0.003, rep.DurationSeconds, 0.1, "the package's elapsed time")
	require.Len(t, rep.Failures, 3)
	assert.Equal(t, "example.com/sample.TestFail", rep.Failures[0].Test)
	assert.Contains(t, rep.Failures[0].Message, "status = 500, want 200")
	require.NotNil(t, rep.Failures[0].File)
	assert.Equal(t, "sample_test.go", *rep.Failures[0].File)
	assert.Positive(t, *rep.Failures[0].Line)
	assert.Equal(t, "example.com/sample.TestTable", rep.Failures[1].Test, "in the order the tests started")
	assert.Equal(t, "example.com/sample.TestTable/bad", rep.Failures[2].Test)
	assert.Contains(t, rep.Failures[2].Message, "boom")
}

func TestGoTestRefusals(t *testing.T) {
	for name, body := range map[string]string{
		"empty":      "",
		"plain text": "ok  \texample.com/x\t0.1s\n",
		"broken":     `{"Action":"pass","Test":"TestA"` + "\n",
		"array":      `[1,2]`,
	} {
		_, err := ParseGoTest(strings.NewReader(body))
		assert.Error(t, err, name)
	}
	rep, err := ParseGoTest(strings.NewReader(`{"Action":"run","Test":"TestA"}` + "\n\n" + `{"Action":"pass","Test":"TestA","Elapsed":0.5}`))
	require.NoError(t, err)
	assert.Equal(t, int64(1), rep.Passed)
	assert.Equal(t, 0.5, rep.DurationSeconds, "without package events, the tests' time")
}

func TestReportsFillCases(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "junit", "pytest.xml"))
	require.NoError(t, err)
	defer f.Close()
	rep, err := ParseJUnit(f)
	require.NoError(t, err)
	require.Len(t, rep.Cases, 4)
	assert.Equal(t, "tests.test_login.test_login_ok", rep.Cases[0].Test())
	assert.Equal(t, []string{OutcomePassed, OutcomeFailed, OutcomeSkipped, OutcomeFailed},
		[]string{rep.Cases[0].Outcome, rep.Cases[1].Outcome, rep.Cases[2].Outcome, rep.Cases[3].Outcome})
	require.NotNil(t, rep.Cases[1].DurationSeconds)
	assert.Equal(t, 0.004, *rep.Cases[1].DurationSeconds)
	for i, c := range rep.Cases {
		p, fl, s := Tally(rep.Cases[i : i+1])
		assert.Equal(t, int64(1), p+fl+s, c.Test())
	}

	g, err := os.Open(filepath.Join("testdata", "gotest", "capture.ndjson"))
	require.NoError(t, err)
	defer g.Close()
	rep, err = ParseGoTest(g)
	require.NoError(t, err)
	p, fl, s := Tally(rep.Cases)
	assert.Equal(t, []int64{rep.Passed, rep.Failed, rep.Skipped}, []int64{p, fl, s}, "one case per test, subtests included")
	names := map[string]string{}
	for _, c := range rep.Cases {
		names[c.Test()] = c.Outcome
	}
	assert.Equal(t, OutcomeFailed, names["example.com/sample.TestTable/bad"])
	assert.Equal(t, OutcomePassed, names["example.com/sample.TestTable/ok"])

	// A name with control characters is cleaned; a case without a name is
	// counted but has no history; the classname equal to the name is dropped.
	rep, err = ParseJUnit(strings.NewReader(`<testsuite><testcase classname="x" name="a&#9;b"/><testcase/><testcase classname="same" name="same"/></testsuite>`))
	require.NoError(t, err)
	assert.Equal(t, int64(3), rep.Passed)
	require.Len(t, rep.Cases, 2)
	assert.Equal(t, "x.a b", rep.Cases[0].Test())
	assert.Equal(t, "same", rep.Cases[1].Test())
}

func TestReportCasesAreCapped(t *testing.T) {
	body := "<testsuite>" + strings.Repeat(`<testcase name="t"/>`, MaxCases+10) + "</testsuite>"
	rep, err := ParseJUnit(strings.NewReader(body))
	require.NoError(t, err)
	assert.Equal(t, int64(MaxCases+10), rep.Passed)
	assert.Len(t, rep.Cases, MaxCases)
}

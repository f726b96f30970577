package results

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ai-rails/state-service/shared/httpkit"
)

func seedFiles(f *testing.F, dir string) {
	files, _ := filepath.Glob(filepath.Join("testdata", dir, "*"))
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
}

func checkReport(t *testing.T, rep Report) {
	t.Helper()
	if rep.Passed < 0 || rep.Failed < 0 || rep.Skipped < 0 || rep.DurationSeconds < 0 {
		t.Fatalf("negative figures: %+v", rep)
	}
	if len(rep.Failures) > MaxFailureDetails || int64(len(rep.Failures)) > rep.Failed {
		t.Fatalf("%d failure details for %d failures", len(rep.Failures), rep.Failed)
	}
	if len(rep.Cases) > MaxCases || int64(len(rep.Cases)) > rep.Passed+rep.Failed+rep.Skipped {
		t.Fatalf("%d cases for %d tests", len(rep.Cases), rep.Passed+rep.Failed+rep.Skipped)
	}
	for _, c := range rep.Cases {
		if checkName(c.Name, true) != "" || checkName(c.Classname, false) != "" {
			t.Fatalf("case %q / %q would be refused in JSON", c.Name, c.Classname)
		}
	}
	for _, f := range rep.Failures {
		if len(f.Message) > MaxMessageBytes || !utf8.ValidString(f.Message) && utf8.ValidString(f.Test) {
			t.Fatalf("message of %d bytes", len(f.Message))
		}
	}
}

// FuzzJUnit: the JUnit parser never panics, and what it returns is sane.
func FuzzJUnit(f *testing.F) {
	seedFiles(f, "junit")
	f.Add([]byte(strings.Repeat("<testsuite>", 100)))
	f.Add([]byte(`<testsuites time="-1"><testsuite time="x"><testcase><failure/><error/><skipped/></testcase></testsuite></testsuites>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rep, err := ParseJUnit(bytes.NewReader(body))
		if err == nil {
			checkReport(t, rep)
		}
	})
}

// FuzzGoTest: the go test -json parser never panics either.
func FuzzGoTest(f *testing.F) {
	seedFiles(f, "gotest")
	f.Add([]byte(`{"Action":"fail","Test":"T","Output":"x_test.go:1: y"}`))
	f.Add([]byte("{}\n{\"Action\":\"pass\",\"Elapsed\":-1}"))
	f.Fuzz(func(t *testing.T, body []byte) {
		rep, err := ParseGoTest(bytes.NewReader(body))
		if err == nil {
			checkReport(t, rep)
		}
	})
}

func TestDeepNestingIsRefusedEarly(t *testing.T) {
	// A million levels: the depth limit stops the parser after MaxDepth
	// elements, whatever follows.
	body := strings.Repeat("<testsuite>", 1_000_000)
	_, err := ParseJUnit(strings.NewReader(body))
	if err == nil || !strings.Contains(err.Error(), "nests deeper") {
		t.Fatalf("got %v", err)
	}
}

// BenchmarkParseJUnit shows the parser's cost per byte stays flat as
// reports grow, for flat and for nested suites.
func BenchmarkParseJUnit(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		for _, shape := range []string{"flat", "nested"} {
			var buf strings.Builder
			buf.WriteString("<testsuites>")
			for i := range n {
				if shape == "nested" && i%50 == 0 {
					buf.WriteString(strings.Repeat("<testsuite>", 40))
				}
				fmt.Fprintf(&buf, `<testcase classname="pkg" name="T%d" time="0.001"><failure message="m">f_test.go:%d: x</failure></testcase>`, i, i)
				if shape == "nested" && i%50 == 49 {
					buf.WriteString(strings.Repeat("</testsuite>", 40))
				}
			}
			if shape == "nested" && n%50 != 0 {
				buf.WriteString(strings.Repeat("</testsuite>", 40))
			}
			buf.WriteString("</testsuites>")
			body := []byte(buf.String())
			b.Run(fmt.Sprintf("%s-%d", shape, n), func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				for b.Loop() {
					if _, err := ParseJUnit(bytes.NewReader(body)); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// FuzzJSONBody: a JSON body that validates holds only what the store can
// keep: cases within bounds, with names the history can key by, and counts
// that hold the cases.
func FuzzJSONBody(f *testing.F) {
	f.Add([]byte(`{"workflow_id":"ABC-123456","test_suite":"u","cases":[{"name":"a","outcome":"failed","message":"x"}],"commit":"ABCDEF1","branch":"main","attempt":2}`))
	f.Add([]byte(`{"workflow_id":"ABC-123456","test_suite":"u","passed":1,"failed":0,"skipped":0,"duration_seconds":1,"cases":[]}`))
	f.Add([]byte(`{"workflow_id":"ABC-123456","test_suite":"u","passed":0,"cases":[{"name":"a","classname":"b","outcome":"passed","duration_seconds":1e308}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var b JSONBody
		if httpkit.Unmarshal(body, &b) != nil {
			return
		}
		in, err := ParseJSON(b, time.Now())
		if err != nil || in.Check() != nil {
			return
		}
		p, fl, s := Tally(in.Cases)
		if len(in.Cases) > MaxCases || in.Result.Passed < p || in.Result.Failed < fl || in.Result.Skipped < s {
			t.Fatalf("%d cases, counts %d/%d/%d below the tally %d/%d/%d", len(in.Cases), in.Result.Passed, in.Result.Failed, in.Result.Skipped, p, fl, s)
		}
		for _, c := range in.Cases {
			if checkName(c.Name, true) != "" || checkName(c.Classname, false) != "" {
				t.Fatalf("case %q / %q passed", c.Name, c.Classname)
			}
		}
		if c := in.Result.Commit; c != nil && (len(*c) < 7 || strings.ToLower(*c) != *c) {
			t.Fatalf("commit %q passed", *c)
		}
		if br := in.Result.Branch; br != nil && refNameProblem(*br) != "" {
			t.Fatalf("branch %q passed", *br)
		}
	})
}

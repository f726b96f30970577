package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ai-rails/state-service/shared/apperr"
)

// Report is what a parser reads from a test report.
type Report struct {
	Passed, Failed, Skipped int64
	DurationSeconds         float64
	Failures                []FailureDetail
	// Cases are the report's named test cases, at most MaxCases.
	Cases []Case
}

// addCase records a case read from a report, unless it has no name or the
// report already gave MaxCases.
func (r *Report) addCase(name, class, outcome string, seconds float64, timed bool) {
	name, class = cleanName(name), cleanName(class)
	if name == "" || len(r.Cases) >= MaxCases {
		return
	}
	if class == name {
		class = ""
	}
	c := Case{Name: name, Classname: class, Outcome: outcome}
	if timed {
		c.DurationSeconds = &seconds
	}
	r.Cases = append(r.Cases, c)
}

// Parser limits: reports are streamed, within the request body limit, and
// nesting is bounded, so parsing stays linear in the input.
const (
	MaxDepth     = 64
	maxTextBytes = MaxMessageBytes
)

func badReport(format string, args ...any) error {
	return apperr.New(apperr.Validation, format, args...)
}

// fileLine finds "name.ext:123:" at the start of a line of test output, as
// go test, go-junit-report and many tools print it.
var fileLine = regexp.MustCompile(`(?m)^\s*([\w./\\-]+\.\w+):(\d+):`)

func failure(test, message, text, file, line string) FailureDetail {
	msg := strings.TrimSpace(message)
	text = strings.TrimSpace(text)
	switch {
	case msg == "":
		msg = text
	case text != "" && !strings.Contains(msg, text):
		msg += "\n" + text
	}
	f := FailureDetail{Test: clip(test, 1024), Message: clip(msg, MaxMessageBytes)}
	if file == "" {
		if m := fileLine.FindStringSubmatch(text); m != nil {
			file, line = m[1], m[2]
		}
	}
	if file != "" {
		file = clip(file, 1024)
		f.File = &file
	}
	if n, err := strconv.Atoi(line); err == nil && n >= 0 {
		f.Line = &n
	}
	return f
}

// clip cuts s to at most n bytes, on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func attr(e xml.StartElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func seconds(s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(s), ",", ""), 64)
	return f, err == nil && f >= 0 && f <= math.MaxFloat64 // finite
}

// ParseJUnit reads a JUnit XML report: <testsuites> or a bare <testsuite>,
// suites nested in suites, <failure> and <error> (both count as failed),
// <skipped>, count attributes missing or wrong (it counts the test cases),
// and time on the root, on suites or only on cases.
func ParseJUnit(r io.Reader) (Report, error) {
	dec := xml.NewDecoder(bufio.NewReader(r))
	dec.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		if strings.EqualFold(label, "utf-8") || strings.EqualFold(label, "utf8") || strings.EqualFold(label, "us-ascii") {
			return in, nil
		}
		return nil, fmt.Errorf("charset %q is not supported; send UTF-8", label)
	}
	var (
		rep                       Report
		depth                     int
		root                      string
		rootTime, suiteTime       float64
		hasRootTime, hasSuiteTime bool
		caseTime                  float64
		suiteDepth                int // suites open, nested included

		inCase                       bool
		caseName, caseFile, caseLine string
		rawName, rawClass            string
		thisTime                     float64
		thisTimed                    bool
		caseState                    string // "", "failed", "skipped"
		failMsg                      string
		text                         strings.Builder
		inFailure                    bool
	)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Report{}, badReport("the JUnit XML does not parse: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth > MaxDepth {
				return Report{}, badReport("the JUnit XML nests deeper than %d elements", MaxDepth)
			}
			name := t.Name.Local
			if root == "" {
				if name != "testsuites" && name != "testsuite" {
					return Report{}, badReport("the JUnit XML must have <testsuites> or <testsuite> at its root, not <%s>", name)
				}
				root = name
				if v, ok := seconds(attr(t, "time")); ok {
					rootTime, hasRootTime = v, true
				}
			}
			switch name {
			case "testsuite":
				if suiteDepth == 0 && !(root == "testsuite" && depth == 1) {
					if v, ok := seconds(attr(t, "time")); ok {
						suiteTime, hasSuiteTime = suiteTime+v, true
					}
				}
				suiteDepth++
			case "testcase":
				if inCase {
					return Report{}, badReport("the JUnit XML has a <testcase> inside a <testcase>")
				}
				inCase, caseState, failMsg = true, "", ""
				text.Reset()
				rawName, rawClass = attr(t, "name"), attr(t, "classname")
				caseName = rawName
				if rawClass != "" && rawClass != caseName {
					caseName = rawClass + "." + caseName
				}
				caseFile, caseLine = attr(t, "file"), attr(t, "line")
				thisTime, thisTimed = seconds(attr(t, "time"))
				if thisTimed {
					caseTime += thisTime
				}
			case "failure", "error":
				if inCase && caseState != "failed" {
					caseState, inFailure = "failed", true
					failMsg = attr(t, "message")
					if failMsg == "" {
						failMsg = attr(t, "type")
					}
				}
			case "skipped":
				if inCase && caseState == "" {
					caseState = "skipped"
				}
			}
		case xml.CharData:
			if inFailure && text.Len() < maxTextBytes {
				text.Write(t[:min(len(t), maxTextBytes-text.Len())])
			}
		case xml.EndElement:
			depth--
			switch t.Name.Local {
			case "failure", "error":
				inFailure = false
			case "testsuite":
				suiteDepth--
			case "testcase":
				inCase = false
				outcome := OutcomePassed
				switch caseState {
				case "failed":
					rep.Failed++
					outcome = OutcomeFailed
					if len(rep.Failures) < MaxFailureDetails {
						rep.Failures = append(rep.Failures, failure(caseName, failMsg, text.String(), caseFile, caseLine))
					}
				case "skipped":
					rep.Skipped++
					outcome = OutcomeSkipped
				default:
					rep.Passed++
				}
				rep.addCase(rawName, rawClass, outcome, thisTime, thisTimed)
			}
		}
	}
	if root == "" {
		return Report{}, badReport("the body holds no JUnit XML")
	}
	switch {
	case hasRootTime:
		rep.DurationSeconds = rootTime
	case hasSuiteTime:
		rep.DurationSeconds = suiteTime
	default:
		rep.DurationSeconds = caseTime
	}
	return rep, nil
}

// goEvent is one line of `go test -json` (test2json).
type goEvent struct {
	Action  string   `json:"Action"`
	Package string   `json:"Package"`
	Test    string   `json:"Test"`
	Output  string   `json:"Output"`
	Elapsed *float64 `json:"Elapsed"`
}

// ParseGoTest reads `go test -json` output: the pass, fail and skip actions
// of tests (subtests included; package-level events are not tests), with a
// failed test's output as its message. The duration is the packages'
// elapsed time.
func ParseGoTest(r io.Reader) (Report, error) {
	type test struct {
		name, pkg, test string
		action          string
		output          strings.Builder
		elapsed         float64
		timed           bool
	}
	var (
		rep      Report
		tests    = map[string]*test{}
		order    []*test
		pkgTime  float64
		hasPkg   bool
		testTime float64
		lineNo   int
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lineNo++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var ev goEvent
		if line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			return Report{}, badReport("line %d is not a go test -json event", lineNo)
		}
		if ev.Test == "" {
			if (ev.Action == "pass" || ev.Action == "fail") && ev.Elapsed != nil && *ev.Elapsed >= 0 {
				// A sum past MaxDurationSeconds, or past float64, is
				// refused by Input.Check.
				pkgTime, hasPkg = pkgTime+*ev.Elapsed, true
			}
			continue
		}
		key := ev.Package + "\x00" + ev.Test
		t := tests[key]
		if t == nil {
			name := ev.Test
			if ev.Package != "" {
				name = ev.Package + "." + ev.Test
			}
			t = &test{name: name, pkg: ev.Package, test: ev.Test}
			tests[key] = t
			order = append(order, t)
		}
		switch ev.Action {
		case "output":
			out := ev.Output
			if strings.HasPrefix(out, "=== ") || strings.HasPrefix(strings.TrimSpace(out), "--- ") {
				continue
			}
			if t.output.Len() < maxTextBytes {
				t.output.WriteString(out[:min(len(out), maxTextBytes-t.output.Len())])
			}
		case "pass", "fail", "skip":
			t.action = ev.Action
			if ev.Elapsed != nil && *ev.Elapsed >= 0 {
				t.elapsed, t.timed = *ev.Elapsed, true
				if !strings.Contains(ev.Test, "/") {
					testTime += *ev.Elapsed
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return Report{}, badReport("the go test -json body does not read: %v", err)
	}
	if len(order) == 0 && !hasPkg {
		return Report{}, badReport("the body holds no go test -json events")
	}
	for _, t := range order {
		switch t.action {
		case "pass":
			rep.Passed++
			rep.addCase(t.test, t.pkg, OutcomePassed, t.elapsed, t.timed)
		case "skip":
			rep.Skipped++
			rep.addCase(t.test, t.pkg, OutcomeSkipped, t.elapsed, t.timed)
		case "fail":
			rep.Failed++
			rep.addCase(t.test, t.pkg, OutcomeFailed, t.elapsed, t.timed)
			if len(rep.Failures) < MaxFailureDetails {
				rep.Failures = append(rep.Failures, failure(t.name, "", t.output.String(), "", ""))
			}
		}
	}
	rep.DurationSeconds = testTime
	if hasPkg {
		rep.DurationSeconds = pkgTime
	}
	return rep, nil
}

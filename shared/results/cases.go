package results

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ai-rails/state-service/shared/apperr"
)

// Outcomes of a test case.
const (
	OutcomePassed  = "passed"
	OutcomeFailed  = "failed"
	OutcomeSkipped = "skipped"
)

// Limits of the failure memory's fields.
const (
	// MaxCases bounds the cases of one run.
	MaxCases = 5000
	// MaxName bounds a case's name and classname, in bytes.
	MaxName = 1024
	// MaxTestName bounds a test's name, classname.name, in bytes.
	MaxTestName = 2*MaxName + 1
	// MaxBranch bounds a branch name, in bytes.
	MaxBranch = 255
	// MaxAttempt bounds attempt.
	MaxAttempt = 100
)

// Case is one test case of a run: what its test's history records.
type Case struct {
	Name            string   `json:"name"`
	Classname       string   `json:"classname,omitempty"`
	Outcome         string   `json:"outcome"`
	DurationSeconds *float64 `json:"duration_seconds,omitempty"`
}

// Test names the case's test within its suite: classname.name, or the plain
// name when there is no classname.
func (c Case) Test() string {
	if c.Classname == "" {
		return c.Name
	}
	return c.Classname + "." + c.Name
}

// caseBody is a case of the JSON form.
type caseBody struct {
	Name            *string  `json:"name"`
	Classname       *string  `json:"classname"`
	Outcome         *string  `json:"outcome"`
	DurationSeconds *float64 `json:"duration_seconds"`
	Message         *string  `json:"message"`
	File            *string  `json:"file"`
	Line            *int     `json:"line"`
}

// checkName reports why a test or class name is refused: 1 to MaxName bytes
// of printable text, with no control characters.
func checkName(s string, required bool) string { return NameProblem(s, MaxName, required) }

// NameProblem reports why a name is refused: 1 to max bytes (0 bytes when
// not required) of UTF-8 with no control characters; "" when it is not.
func NameProblem(s string, max int, required bool) string {
	switch {
	case s == "" && required:
		return "is required, 1 to " + strconv.Itoa(max) + " bytes"
	case len(s) > max:
		return "must be at most " + strconv.Itoa(max) + " bytes"
	case strings.IndexFunc(s, unicode.IsControl) >= 0 || !utf8.ValidString(s):
		return "must hold no control characters"
	}
	return ""
}

// cleanName makes a name read from a report storable: control characters
// become spaces, and it is clipped to MaxName bytes.
func cleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
	return clip(strings.TrimSpace(s), MaxName)
}

// parseCases validates the JSON form's cases, and the failure details of
// the failed ones, for when the body gives none.
func parseCases(errs *apperr.Collector, body []caseBody) ([]Case, []FailureDetail) {
	if len(body) > MaxCases {
		errs.Add("cases", "must hold at most %d items", MaxCases)
		return nil, nil
	}
	cases := make([]Case, 0, len(body))
	var failures []FailureDetail
	for i, c := range body {
		field := "cases[" + strconv.Itoa(i) + "]"
		var name, class string
		if c.Name != nil {
			name = *c.Name
		}
		if c.Classname != nil {
			class = *c.Classname
		}
		switch {
		case checkName(name, true) != "":
			errs.Add(field+".name", "%s", checkName(name, true))
		case checkName(class, false) != "":
			errs.Add(field+".classname", "%s", checkName(class, false))
		case c.Outcome == nil || (*c.Outcome != OutcomePassed && *c.Outcome != OutcomeFailed && *c.Outcome != OutcomeSkipped):
			errs.Add(field+".outcome", "is required, one of passed, failed, skipped")
		case c.DurationSeconds != nil && !(*c.DurationSeconds >= 0 && *c.DurationSeconds <= MaxDurationSeconds):
			errs.Add(field+".duration_seconds", "must be a number from 0 to %d", MaxDurationSeconds)
		case c.Message != nil && len(*c.Message) > MaxMessageBytes:
			errs.Add(field+".message", "must be at most %d bytes", MaxMessageBytes)
		case c.File != nil && len(*c.File) > 1024:
			errs.Add(field+".file", "must be at most 1024 bytes")
		case c.Line != nil && (*c.Line < 0 || *c.Line > MaxLine):
			errs.Add(field+".line", "must be from 0 to %d", MaxLine)
		default:
			k := Case{Name: name, Classname: class, Outcome: *c.Outcome, DurationSeconds: c.DurationSeconds}
			cases = append(cases, k)
			if k.Outcome == OutcomeFailed && len(failures) < MaxFailureDetails {
				msg := ""
				if c.Message != nil {
					msg = *c.Message
				}
				failures = append(failures, FailureDetail{Test: k.Test(), Message: msg, File: c.File, Line: c.Line})
			}
		}
		if len(errs.Fields()) > 20 {
			break
		}
	}
	return cases, failures
}

// Tally counts the cases of each outcome.
func Tally(cases []Case) (passed, failed, skipped int64) {
	for _, c := range cases {
		switch c.Outcome {
		case OutcomePassed:
			passed++
		case OutcomeFailed:
			failed++
		default:
			skipped++
		}
	}
	return passed, failed, skipped
}

// checkCommit reads a commit: 7 to 40 hex digits, kept in lower case so
// that one commit has one spelling.
func checkCommit(errs *apperr.Collector, v *string) *string {
	if v == nil {
		return nil
	}
	s := strings.ToLower(*v)
	ok := len(s) >= 7 && len(s) <= 40
	for i := 0; ok && i < len(s); i++ {
		ok = s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f'
	}
	if !ok {
		errs.Add("commit", "must be 7 to 40 hexadecimal digits")
		return nil
	}
	return &s
}

// checkBranch reads a branch: a git ref name (git check-ref-format's rules)
// of at most MaxBranch bytes.
func checkBranch(errs *apperr.Collector, v *string) *string {
	if v == nil {
		return nil
	}
	if why := refNameProblem(*v); why != "" {
		errs.Add("branch", "must be a git ref name of at most %d bytes: %s", MaxBranch, why)
		return nil
	}
	return v
}

// refNameProblem says what breaks git check-ref-format's rules in s, or "".
func refNameProblem(s string) string {
	switch {
	case s == "" || len(s) > MaxBranch:
		return "it is empty or too long"
	case !utf8.ValidString(s):
		return "it is not UTF-8"
	case s == "@":
		return `it is "@"`
	case strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") || strings.HasSuffix(s, "."):
		return `it begins or ends with "/", or ends with "."`
	case strings.Contains(s, "..") || strings.Contains(s, "//") || strings.Contains(s, "@{"):
		return `it holds "..", "//" or "@{"`
	}
	for _, part := range strings.Split(s, "/") {
		if strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
			return `a part begins with "." or ends with ".lock"`
		}
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) {
			return "it holds a space, a control character or one of ~^:?*[\\"
		}
	}
	return ""
}

// checkAttempt reads attempt: 1 to MaxAttempt.
func checkAttempt(errs *apperr.Collector, v *int) *int {
	if v == nil {
		return nil
	}
	if *v < 1 || *v > MaxAttempt {
		errs.Add("attempt", "must be an integer from 1 to %d", MaxAttempt)
		return nil
	}
	return v
}

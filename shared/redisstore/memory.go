package redisstore

import (
	"strconv"
	"strings"
	"time"

	"github.com/ai-rails/state-service/shared/failures"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/results"
	"github.com/ai-rails/state-service/shared/storekit"
	"github.com/ai-rails/state-service/shared/testhistory"
)

// The separators of the failure memory's packed records: ASCII's unit,
// record and group separators. Names and samples never hold them
// (results refuses or cleans control characters in case names;
// memoryName and failures.Sample clean the rest).
const (
	unitSep   = "\x1f"
	recordSep = "\x1e"
	groupSep  = "\x1d"
)

// RecentOccurrences is how many workflows a failure record remembers, the
// latest first, for similar failures to name one other than the caller's.
const RecentOccurrences = 5

// PruneCount is how many of a suite's tests each run looks at, to drop
// those that have not run within the history's window.
const PruneCount = 50

// VectorGrace is how long a new fingerprint waits in the vector outbox
// before the sweeper upserts it: the ingest's own upsert comes first.
const VectorGrace = time.Minute

// memoryName makes a name safe inside a packed record.
func memoryName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 0x1c && r <= 0x1f || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// ingest is the failure memory's part of storing a run: the keys and
// arguments of results_create.lua, and the index entries of its groups by
// fingerprint.
type ingest struct {
	keys    []string
	args    storekit.Args
	entries map[string]failures.Entry
}

// memoryIngest prepares the failure memory's part of storing in.
func memoryIngest(k keys.Schema, in results.Input, now time.Time, outbox bool) ingest {
	r := in.Result
	suite := r.TestSuite
	wf := in.WorkflowID.String()
	at := in.Executed.UnixMilli()

	// One history entry per test: a test that failed once in the run
	// failed.
	type merged struct {
		outcome string
		ms      int64
	}
	byTest, order := map[string]*merged{}, []string{}
	rank := map[string]int{results.OutcomeSkipped: 0, results.OutcomePassed: 1, results.OutcomeFailed: 2}
	for _, c := range in.Cases {
		name := memoryName(c.Test())
		ms := int64(-1)
		if c.DurationSeconds != nil {
			ms = int64(*c.DurationSeconds*1000 + 0.5)
		}
		m := byTest[name]
		if m == nil {
			byTest[name] = &merged{c.Outcome, ms}
			order = append(order, name)
		} else if rank[c.Outcome] > rank[m.outcome] {
			m.outcome, m.ms = c.Outcome, ms
		}
	}
	var cases strings.Builder
	for i, name := range order {
		if i > 0 {
			cases.WriteString(recordSep)
		}
		m := byTest[name]
		cases.WriteString(name + unitSep + m.outcome[:1] + ":")
		if m.ms >= 0 {
			cases.WriteString(strconv.FormatInt(m.ms, 10))
		}
	}

	// One group per fingerprint.
	type group struct {
		count  int
		tests  []string
		seen   map[string]bool
		sample string
	}
	groups, fps := map[string]*group{}, []string{}
	for _, f := range r.FailureDetails {
		fp := failures.Fingerprint(f.Test, f.Message)
		g := groups[fp]
		if g == nil {
			g = &group{seen: map[string]bool{}, sample: failures.Sample(f.Message)}
			groups[fp] = g
			fps = append(fps, fp)
		}
		g.count++
		if name := memoryName(f.Test); !g.seen[name] && len(g.tests) < failures.MaxGroupTests {
			g.seen[name] = true
			g.tests = append(g.tests, name)
		}
	}
	var packed strings.Builder
	ing := ingest{
		keys: []string{k.TestHistories(suite), k.TestRuns(suite), k.WorkflowFailureGroups(in.WorkflowID),
			k.SuiteFailureGroups(suite), k.VectorOutbox()},
		entries: map[string]failures.Entry{},
	}
	for i, fp := range fps {
		g := groups[fp]
		if i > 0 {
			packed.WriteString(recordSep)
		}
		packed.WriteString(fp + unitSep + strconv.Itoa(g.count) + unitSep + strings.Join(g.tests, groupSep) + unitSep + g.sample)
		ing.keys = append(ing.keys, k.Failure(fp))
		ing.entries[fp] = failures.Entry{Fingerprint: fp, Sample: g.sample, Test: g.tests[0], Suite: suite, Workflow: wf, SeenAt: in.Executed}
	}

	outboxFlag := "0"
	if outbox {
		outboxFlag = "1"
	}
	commit, attempt := "", ""
	if r.Commit != nil {
		commit = *r.Commit
	}
	if r.Attempt != nil {
		attempt = strconv.Itoa(*r.Attempt)
	}
	ing.args = storekit.Args{"now_ms", now.UnixMilli(), "keep_ms", testhistory.KeepFor.Milliseconds(),
		"max_runs", testhistory.MaxRuns, "run", strings.Join([]string{strconv.FormatInt(at, 10), wf, commit, attempt}, unitSep),
		"cases", cases.String(), "groups", packed.String(), "workflow", wf, "suite", memoryName(suite),
		"grace_ms", VectorGrace.Milliseconds(), "outbox", outboxFlag, "recent", RecentOccurrences,
		"max_tests", failures.MaxGroupTests, "max_workflows", failures.MaxGroupWorkflows, "prune_count", PruneCount}
	return ing
}

package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/failures"
	"github.com/ai-rails/state-service/shared/jsondoc"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/storekit"
	"github.com/ai-rails/state-service/shared/testhistory"
	"github.com/ai-rails/state-service/shared/upstash"
)

var (
	//go:embed tests_history.lua
	testsHistoryLua string
	//go:embed tests_flaky.lua
	testsFlakyLua string
	//go:embed failures_similar.lua
	failuresSimilarLua string
	//go:embed failures_groups.lua
	failuresGroupsLua string

	testsHistory    = storekit.Script(testsHistoryLua).RetrySafe()
	testsFlaky      = storekit.Script(testsFlakyLua).RetrySafe()
	failuresSimilar = storekit.Script(failuresSimilarLua).RetrySafe()
	failuresGroups  = storekit.Script(failuresGroupsLua).RetrySafe()
)

// Cursor kinds of the failure memory's lists.
const (
	historyCursorKind = "h1"
	flakyCursorKind   = "f1"
	groupCursorKind   = "g1"
)

// TestHistory reads the test histories that Results writes, one round trip
// per call: the testhistory.Service.
type TestHistory struct {
	c     *upstash.Client
	keys  keys.Schema
	now   func() time.Time
	rules testhistory.Rules
}

// NewTestHistory returns TestHistory with the flaky rules.
func NewTestHistory(c *upstash.Client, k keys.Schema, rules testhistory.Rules, now func() time.Time) *TestHistory {
	if now == nil {
		now = time.Now
	}
	return &TestHistory{c: c, keys: k, rules: rules, now: now}
}

// parseRun reads a history entry ("run:outcome:ms") and its run
// (ingest_ms US at_ms US workflow US commit US attempt).
func parseRun(entry, info string) (testhistory.Run, error) {
	e := strings.Split(entry, ":")
	p := strings.Split(info, unitSep)
	if len(e) != 3 || len(p) != 5 {
		return testhistory.Run{}, fmt.Errorf("bad history entry %q / %q", entry, info)
	}
	at, err := strconv.ParseInt(p[1], 10, 64)
	if err != nil {
		return testhistory.Run{}, fmt.Errorf("bad run time %q", p[1])
	}
	r := testhistory.Run{WorkflowID: p[2], AtTime: time.UnixMilli(at).UTC()}
	r.At = jsondoc.FormatTime(r.AtTime)
	switch e[1] {
	case "p":
		r.Outcome = "passed"
	case "f":
		r.Outcome = "failed"
	default:
		r.Outcome = "skipped"
	}
	if ms, err := strconv.ParseInt(e[2], 10, 64); err == nil {
		d := float64(ms) / 1000
		r.DurationSeconds = &d
	}
	if p[3] != "" {
		r.Commit = &p[3]
	}
	if n, err := strconv.Atoi(p[4]); err == nil {
		r.Attempt = &n
	}
	return r, nil
}

// History reads a page of one test's runs, newest first.
func (s *TestHistory) History(ctx context.Context, q testhistory.HistoryQuery) (testhistory.HistoryPage, error) {
	before := ""
	if q.Cursor != "" {
		c, err := storekit.ParseCursor(historyCursorKind, q.Cursor, func(string) error { return nil })
		if err != nil {
			return testhistory.HistoryPage{}, err
		}
		before = c.Score
	}
	v, err := upstash.Values(testsHistory.Run(ctx, s.c, []string{s.keys.TestHistories(q.Suite), s.keys.TestRuns(q.Suite)},
		storekit.Args{"test", memoryName(q.Test), "limit", q.Limit, "before", before, "now_ms", s.now().UnixMilli(),
			"keep_ms", testhistory.KeepFor.Milliseconds()}...))
	if err != nil {
		return testhistory.HistoryPage{}, fmt.Errorf("read the history of %s: %w", q.Test, err)
	}
	next, _ := upstash.String(v[0], nil)
	entries, err := upstash.Strings(v[1], nil)
	if err != nil && !errors.Is(err, upstash.ErrNil) {
		return testhistory.HistoryPage{}, fmt.Errorf("read the history of %s: %w", q.Test, err)
	}
	page := testhistory.HistoryPage{TestSuite: q.Suite, Test: q.Test, Items: make([]testhistory.Run, 0, len(entries)/2)}
	for i := 0; i+1 < len(entries); i += 2 {
		r, err := parseRun(entries[i], entries[i+1])
		if err != nil {
			return testhistory.HistoryPage{}, fmt.Errorf("read the history of %s: %w", q.Test, err)
		}
		page.Items = append(page.Items, r)
	}
	if next != "" {
		c := storekit.Cursor{Score: next}.Encode(historyCursorKind)
		page.NextCursor = &c
	}
	return page, nil
}

// Flaky judges the tests of a suite that passed and failed in their
// windows, and answers a page of the flaky ones, highest score first.
func (s *TestHistory) Flaky(ctx context.Context, q testhistory.FlakyQuery) (testhistory.FlakyPage, error) {
	var after *testhistory.Flaky
	if q.Cursor != "" {
		c, err := storekit.ParseCursor(flakyCursorKind, q.Cursor, func(string) error { return nil })
		if err != nil {
			return testhistory.FlakyPage{}, err
		}
		bits, _ := strconv.ParseUint(c.Score, 10, 64)
		after = &testhistory.Flaky{Score: math.Float64frombits(bits), Test: c.Member}
	}
	wf := ""
	if q.Workflow != nil {
		wf = q.Workflow.String()
	}
	v, err := upstash.Values(testsFlaky.Run(ctx, s.c, []string{s.keys.TestHistories(q.Suite), s.keys.TestRuns(q.Suite)},
		storekit.Args{"window", testhistory.Window, "workflow", wf, "now_ms", s.now().UnixMilli(),
			"keep_ms", testhistory.KeepFor.Milliseconds()}...))
	if err != nil {
		return testhistory.FlakyPage{}, fmt.Errorf("read the flaky tests of %s: %w", q.Suite, err)
	}
	tests, err1 := upstash.Strings(v[0], nil)
	runList, err2 := upstash.Strings(v[1], nil)
	if err := errors.Join(err1, err2); err != nil {
		return testhistory.FlakyPage{}, fmt.Errorf("read the flaky tests of %s: %w", q.Suite, err)
	}
	runs := map[string]string{}
	for i := 0; i+1 < len(runList); i += 2 {
		runs[runList[i]] = runList[i+1]
	}
	var flaky []testhistory.Flaky
	for i := 0; i+1 < len(tests); i += 2 {
		var window []testhistory.Run
		for _, e := range strings.Split(tests[i+1], ";") {
			r, err := parseRun(e, runs[e[:strings.IndexByte(e, ':')]])
			if err != nil {
				return testhistory.FlakyPage{}, fmt.Errorf("read the flaky tests of %s: %w", q.Suite, err)
			}
			window = append(window, r)
		}
		if f, ok := s.rules.Judge(q.Suite, tests[i], window); ok && (after == nil || testhistory.Less(*after, f)) {
			flaky = append(flaky, f)
		}
	}
	testhistory.Sort(flaky)
	page := testhistory.FlakyPage{Items: flaky}
	if len(flaky) > q.Limit {
		page.Items = flaky[:q.Limit]
		last := page.Items[q.Limit-1]
		c := storekit.Cursor{Score: strconv.FormatUint(math.Float64bits(last.Score), 10), Member: last.Test}.Encode(flakyCursorKind)
		page.NextCursor = &c
	}
	if page.Items == nil {
		page.Items = []testhistory.Flaky{}
	}
	return page, nil
}

// Failures reads the failure groups that Results writes, and finds similar
// failures through the vector index: the failures.Service.
type Failures struct {
	c     *upstash.Client
	keys  keys.Schema
	index failures.Index
}

// NewFailures returns Failures over the vector index.
func NewFailures(c *upstash.Client, k keys.Schema, index failures.Index) *Failures {
	return &Failures{c: c, keys: k, index: index}
}

// parseGroup reads a packed group: count US first_ms US last_ms US tests US
// workflows.
func parseGroup(fp, packed, sample string) (failures.Group, int64, error) {
	p := strings.Split(packed, unitSep)
	if len(p) != 5 {
		return failures.Group{}, 0, fmt.Errorf("bad failure group %s", fp)
	}
	count, err1 := strconv.ParseInt(p[0], 10, 64)
	first, err2 := strconv.ParseInt(p[1], 10, 64)
	last, err3 := strconv.ParseInt(p[2], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return failures.Group{}, 0, fmt.Errorf("bad failure group %s: %w", fp, err)
	}
	return failures.Group{Fingerprint: fp, Count: count, SampleMessage: sample,
		FirstSeen: jsondoc.FormatTime(time.UnixMilli(first)), LastSeen: jsondoc.FormatTime(time.UnixMilli(last)),
		Tests: names(p[3]), Workflows: names(p[4])}, last, nil
}

func names(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, groupSep)
}

// Groups reads a page of the failure groups of a workflow or a suite, the
// latest seen first, in one round trip.
func (s *Failures) Groups(ctx context.Context, q failures.GroupQuery) (failures.GroupPage, error) {
	key := s.keys.SuiteFailureGroups(q.Suite)
	if q.Workflow != nil {
		key = s.keys.WorkflowFailureGroups(*q.Workflow)
	}
	afterMs, afterFP := "", ""
	if q.Cursor != "" {
		c, err := storekit.ParseCursor(groupCursorKind, q.Cursor, func(m string) error {
			if !failures.IsFingerprint(m) {
				return errors.New("not a fingerprint")
			}
			return nil
		})
		if err != nil {
			return failures.GroupPage{}, err
		}
		afterMs, afterFP = c.Score, c.Member
	}
	v, err := upstash.Values(failuresGroups.Run(ctx, s.c, []string{key},
		storekit.Args{"failure_prefix", s.keys.FailurePrefix(), "limit", q.Limit, "after_ms", afterMs, "after_fp", afterFP}...))
	if err != nil {
		return failures.GroupPage{}, fmt.Errorf("read failure groups: %w", err)
	}
	rows, err := upstash.Strings(v[0], nil)
	if err != nil && !errors.Is(err, upstash.ErrNil) {
		return failures.GroupPage{}, fmt.Errorf("read failure groups: %w", err)
	}
	page := failures.GroupPage{Items: make([]failures.Group, 0, len(rows)/3)}
	var last int64
	for i := 0; i+2 < len(rows); i += 3 {
		g, ms, err := parseGroup(rows[i], rows[i+1], rows[i+2])
		if err != nil {
			return failures.GroupPage{}, fmt.Errorf("read failure groups: %w", err)
		}
		page.Items = append(page.Items, g)
		last = ms
	}
	if v[1] == int64(1) && len(page.Items) > 0 {
		c := storekit.Cursor{Score: strconv.FormatInt(last, 10), Member: page.Items[len(page.Items)-1].Fingerprint}.Encode(groupCursorKind)
		page.NextCursor = &c
	}
	return page, nil
}

// Similar finds the failures nearest to the text in the vector index, and
// where each was last seen outside the excluded workflow.
func (s *Failures) Similar(ctx context.Context, q failures.SimilarQuery) (failures.SimilarList, error) {
	out := failures.SimilarList{Items: []failures.Similar{}}
	if s.index == nil {
		return out, apperr.New(apperr.StoreUnavailable, "no vector index is configured (UPSTASH_VECTOR_REST_URL), so similar failures cannot be searched")
	}
	// More than k: some matches are dropped below, those seen only in the
	// excluded workflow and those whose record has expired (their vectors
	// stay in the index).
	matches, err := s.index.Query(ctx, q.Text, 2*q.K+5)
	if errors.Is(err, upstash.ErrUnavailable) {
		return out, &apperr.Error{Kind: apperr.StoreUnavailable, Detail: "the vector index cannot be reached; retry later", Err: err}
	}
	if err != nil {
		return out, fmt.Errorf("query the vector index: %w", err)
	}
	matches = slices.DeleteFunc(matches, func(m failures.Match) bool { return m.Score < failures.MinScore })
	if len(matches) == 0 {
		return out, nil
	}
	ks := make([]string, len(matches))
	for i, m := range matches {
		ks[i] = s.keys.Failure(m.Fingerprint)
	}
	exclude := ""
	if q.Exclude != nil {
		exclude = q.Exclude.String()
	}
	v, err := upstash.Values(failuresSimilar.Run(ctx, s.c, ks,
		storekit.Args{"exclude", exclude, "workflow_prefix", s.keys.WorkflowKeyPrefix()}...))
	if err != nil {
		return out, fmt.Errorf("read similar failures: %w", err)
	}
	for i, m := range matches {
		if len(out.Items) == q.K || i >= len(v) {
			break
		}
		row, err := upstash.Strings(v[i], nil)
		if err != nil || len(row) != 3 || row[1] == "" {
			continue // gone, or seen only in the excluded workflow
		}
		occ := strings.Split(row[1], unitSep)
		if len(occ) != 4 {
			continue
		}
		at, _ := strconv.ParseInt(occ[3], 10, 64)
		item := failures.Similar{Fingerprint: m.Fingerprint, Score: m.Score, SampleMessage: row[0], WorkflowID: occ[0],
			TestSuite: occ[1], Test: occ[2], SeenAt: jsondoc.FormatTime(time.UnixMilli(at)), WorkflowStatus: failures.StatusUnknown}
		var state struct {
			Status string `json:"status"`
		}
		if row[2] != "" && jsondoc.Unmarshal([]byte(row[2]), &state) == nil && state.Status != "" {
			item.WorkflowStatus = state.Status
		}
		out.Items = append(out.Items, item)
	}
	return out, nil
}

//go:embed vectors_due.lua
var vectorsDueLua string

var vectorsDue = storekit.Script(vectorsDueLua)

// VectorRetry is how long an outbox entry waits after an upsert failed.
const VectorRetry = 5 * time.Minute

// DeliverDue upserts the vectors of up to n due fingerprints of the vector
// outbox, in one request, and removes them from it; when the upsert fails
// they wait VectorRetry. more says whether more were due. With no index,
// it does nothing.
func (s *Failures) DeliverDue(ctx context.Context, n int, now time.Time) (failures.VectorReport, bool, error) {
	var rep failures.VectorReport
	if s.index == nil {
		return rep, false, nil
	}
	v, err := upstash.Values(vectorsDue.Run(ctx, s.c, []string{s.keys.VectorOutbox()},
		storekit.Args{"now_ms", now.UnixMilli(), "limit", n, "failure_prefix", s.keys.FailurePrefix()}...))
	if err != nil {
		return rep, false, fmt.Errorf("read the vector outbox: %w", err)
	}
	rows, _ := upstash.Strings(v[0], nil)
	more := v[1] == int64(1)
	if len(rows) == 0 {
		return rep, more, nil
	}
	entries := make([]failures.Entry, 0, len(rows)/3)
	members := make([]any, 0, len(rows)/3)
	for i := 0; i+2 < len(rows); i += 3 {
		e := failures.Entry{Fingerprint: rows[i], Sample: rows[i+1]}
		if occ := strings.Split(rows[i+2], unitSep); len(occ) == 4 {
			at, _ := strconv.ParseInt(occ[3], 10, 64)
			e.Workflow, e.Suite, e.Test, e.SeenAt = occ[0], occ[1], occ[2], time.UnixMilli(at)
		}
		entries = append(entries, e)
		members = append(members, e.Fingerprint)
	}
	if err := s.index.Upsert(ctx, entries); err != nil {
		rep.Failed = len(entries)
		retry := append([]any{"ZADD", s.keys.VectorOutbox(), "XX"}, pairs(now.Add(VectorRetry).UnixMilli(), members)...)
		if _, zerr := s.c.Do(ctx, retry...); zerr != nil {
			return rep, false, errors.Join(err, zerr)
		}
		return rep, false, fmt.Errorf("upsert %d vectors: %w", len(entries), err)
	}
	if _, err := s.c.Do(ctx, append([]any{"ZREM", s.keys.VectorOutbox()}, members...)...); err != nil {
		return rep, false, fmt.Errorf("clear the vector outbox: %w", err)
	}
	rep.Upserted = len(entries)
	return rep, more, nil
}

// pairs interleaves one score with members, for ZADD.
func pairs(score int64, members []any) []any {
	out := make([]any, 0, 2*len(members))
	for _, m := range members {
		out = append(out, score, m)
	}
	return out
}

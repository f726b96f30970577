package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/failures"
	"github.com/ai-rails/state-service/shared/idempotency"
	"github.com/ai-rails/state-service/shared/jsondoc"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/results"
	"github.com/ai-rails/state-service/shared/storekit"
	"github.com/ai-rails/state-service/shared/upstash"
)

var (
	//go:embed results_create.lua
	resultsCreateLua string
	//go:embed results_list.lua
	resultsListLua string

	resultsCreate = idempotency.Wrap(storekit.Script(resultsCreateLua))
	resultsList   = storekit.Script(storekit.PageLib() + "\n" + resultsListLua).RetrySafe()
)

// Results keeps test results, one round trip per call: the
// results.Service. Storing a run also records it in the failure memory
// (the test histories and the failure groups) in the same round trip.
type Results struct {
	c    *upstash.Client
	keys keys.Schema
	o    ResultsOptions
}

// ResultsOptions are the settings of Results.
type ResultsOptions struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Index, when set, gets the vectors of the fingerprints a run sees for
	// the first time, right after the run is stored and within
	// IndexBudget. What it misses waits in the vector outbox for the
	// sweeper.
	Index       failures.Index
	IndexBudget time.Duration
	// Logger logs an upsert that failed; nil discards.
	Logger *slog.Logger
}

// DefaultIndexBudget is how long an ingest waits for its vector upsert.
const DefaultIndexBudget = 500 * time.Millisecond

// NewResults returns Results.
func NewResults(c *upstash.Client, k keys.Schema, o ResultsOptions) *Results {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.IndexBudget <= 0 {
		o.IndexBudget = DefaultIndexBudget
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Results{c: c, keys: k, o: o}
}

// Create stores a result for TestResultTTL, unless its test_id is taken.
func (s *Results) Create(ctx context.Context, in results.Input) (results.TestResults, error) {
	in.Finish()
	doc, err := jsondoc.Marshal(in.Result)
	if err != nil {
		// Input.Check keeps out what would not encode; nothing is written.
		return results.TestResults{}, fmt.Errorf("encode result %s: %w", in.TestID, err)
	}
	mem := memoryIngest(s.keys, in, s.o.Now(), s.o.Index != nil)
	args := append(storekit.Args{"doc", doc, "id", in.TestID.String(), "ttl_ms", keys.TestResultTTL.Milliseconds(),
		"executed_ms", in.Executed.UnixMilli()}, mem.args...)
	res, err := upstash.Strings(resultsCreate.Run(ctx, s.c,
		append([]string{s.keys.TestResult(in.TestID), s.keys.WorkflowResults(in.WorkflowID)}, mem.keys...), args...))
	if err != nil {
		return results.TestResults{}, fmt.Errorf("store result %s: %w", in.TestID, err)
	}
	if res[0] == "exists" {
		return results.TestResults{}, apperr.New(apperr.Conflict, "a result with test_id %s already exists", in.TestID)
	}
	var out results.TestResults
	if err := jsondoc.Unmarshal([]byte(res[1]), &out); err != nil {
		return results.TestResults{}, fmt.Errorf("stored result %s does not parse: %w", in.TestID, err)
	}
	if fresh := res[2:]; len(fresh) > 0 && s.o.Index != nil {
		entries := make([]failures.Entry, 0, len(fresh))
		for _, fp := range fresh {
			if e, ok := mem.entries[fp]; ok {
				entries = append(entries, e)
			}
		}
		s.index(ctx, entries)
	}
	return out, nil
}

// index upserts the vectors of new fingerprints within the budget. A
// failure is logged, not answered: the run is stored, and the vector
// outbox keeps the upserts for the sweeper.
func (s *Results) index(ctx context.Context, entries []failures.Entry) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.o.IndexBudget)
	defer cancel()
	if err := s.o.Index.Upsert(ctx, entries); err != nil {
		s.o.Logger.LogAttrs(ctx, slog.LevelWarn, "vector upsert failed; the outbox keeps it",
			slog.Int("vectors", len(entries)), slog.String("error", err.Error()))
	}
}

// Get reads one result.
func (s *Results) Get(ctx context.Context, id keys.TestID) (results.TestResults, error) {
	return storekit.Get[results.TestResults](ctx, s.c, s.keys.TestResult(id), "result "+id.String())
}

const resultsCursorKind = "r1"

// List reads a page of a workflow's results, newest executed_at first, and
// the summary of every run it keeps, in one round trip.
func (s *Results) List(ctx context.Context, q results.ListQuery) (results.Page, error) {
	wf, limit, cs, cm := q.Workflow, q.Limit, "", ""
	if q.Cursor != "" {
		after, err := storekit.ParseCursor(resultsCursorKind, q.Cursor, func(m string) error { _, err := keys.ParseTestID(m); return err })
		if err != nil {
			return results.Page{}, err
		}
		cs, cm = after.Score, after.Member
	}
	v, err := upstash.Values(resultsList.Run(ctx, s.c, []string{s.keys.WorkflowResults(wf)},
		storekit.Args{"prefix", s.keys.TestResultPrefix(), "limit", limit, "cursor_score", cs, "cursor_member", cm,
			"budget", storekit.ListBudget}...))
	if err != nil {
		return results.Page{}, fmt.Errorf("list results of %s: %w", wf, err)
	}
	docs, err := upstash.Strings(v[0], nil)
	if err != nil && !errors.Is(err, upstash.ErrNil) {
		return results.Page{}, fmt.Errorf("list results of %s: %w", wf, err)
	}
	page := results.Page{Items: make([]results.TestResults, 0, len(docs))}
	for _, d := range docs {
		var r results.TestResults
		if err := jsondoc.Unmarshal([]byte(d), &r); err != nil {
			return results.Page{}, fmt.Errorf("list results of %s: stored result does not parse: %w", wf, err)
		}
		page.Items = append(page.Items, r)
	}
	if next, err := upstash.Strings(v[1], nil); err == nil && len(next) == 2 {
		c := storekit.Cursor{Score: next[0], Member: next[1]}.Encode(resultsCursorKind)
		page.NextCursor = &c
	}
	sum, err := upstash.Strings(v[2], nil)
	if err != nil || len(sum) != 5 {
		return results.Page{}, fmt.Errorf("list results of %s: bad summary %v", wf, v[2])
	}
	n := make([]int64, 4)
	for i := range n {
		n[i], _ = strconv.ParseInt(sum[i], 10, 64)
	}
	page.Summary = results.Summary{Runs: n[0], Passed: n[1], Failed: n[2], Skipped: n[3]}
	if ran := n[1] + n[2]; ran > 0 {
		rate := float64(n[1]) / float64(ran)
		page.Summary.PassRate = &rate
	}
	if sum[4] != "" {
		page.Summary.LatestTestID = &sum[4]
	}
	return page, nil
}

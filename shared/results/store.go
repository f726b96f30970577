package results

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/idempotency"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/storekit"
	"github.com/ai-rails/state-service/shared/upstash"
)

var (
	//go:embed create.lua
	createLua string
	//go:embed list.lua
	listLua string

	createScript = idempotency.Wrap(upstash.NewScript(createLua))
	listScript   = storekit.Script(storekit.PageLib() + "\n" + listLua).RetrySafe()
)

// Store keeps test results, one round trip per call.
type Store struct {
	c    *upstash.Client
	keys keys.Schema
	now  func() time.Time
}

// NewStore returns a Store; now nil means time.Now.
func NewStore(c *upstash.Client, k keys.Schema, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{c: c, keys: k, now: now}
}

// Create stores a result for TestResultTTL, unless its test_id is taken.
func (s *Store) Create(ctx context.Context, in Input) (TestResults, error) {
	in.finish()
	doc, err := storekit.Marshal(in.Result)
	if err != nil {
		// Input.Check keeps out what would not encode; nothing is written.
		return TestResults{}, fmt.Errorf("encode result %s: %w", in.TestID, err)
	}
	res, err := upstash.Strings(createScript.Run(ctx, s.c,
		[]string{s.keys.TestResult(in.TestID), s.keys.WorkflowResults(in.WorkflowID)},
		doc, in.TestID.String(), keys.TestResultTTL.Milliseconds(), in.Executed.UnixMilli()))
	if err != nil {
		return TestResults{}, fmt.Errorf("store result %s: %w", in.TestID, err)
	}
	if res[0] == "exists" {
		return TestResults{}, apperr.New(apperr.Conflict, "a result with test_id %s already exists", in.TestID)
	}
	var out TestResults
	if err := json.Unmarshal([]byte(res[1]), &out); err != nil {
		return TestResults{}, fmt.Errorf("stored result %s does not parse: %w", in.TestID, err)
	}
	return out, nil
}

// Get reads one result.
func (s *Store) Get(ctx context.Context, id keys.TestID) (TestResults, error) {
	return storekit.Get[TestResults](ctx, s.c, s.keys.TestResult(id), "result "+id.String())
}

const cursorKind = "r1"

// ParseCursor decodes a cursor of the results list.
func ParseCursor(s string) (*storekit.Cursor, error) {
	c, err := storekit.ParseCursor(cursorKind, s, func(m string) error { _, err := keys.ParseTestID(m); return err })
	return &c, err
}

// List reads a page of a workflow's results, newest executed_at first, and
// the summary of every run it keeps, in one round trip.
func (s *Store) List(ctx context.Context, wf keys.WorkflowID, limit int, after *storekit.Cursor) (Page, error) {
	cs, cm := "", ""
	if after != nil {
		cs, cm = after.Score, after.Member
	}
	v, err := upstash.Values(listScript.Run(ctx, s.c, []string{s.keys.WorkflowResults(wf)},
		s.keys.TestResultPrefix(), limit, cs, cm, storekit.ListBudget))
	if err != nil {
		return Page{}, fmt.Errorf("list results of %s: %w", wf, err)
	}
	docs, err := upstash.Strings(v[0], nil)
	if err != nil && !errors.Is(err, upstash.ErrNil) {
		return Page{}, fmt.Errorf("list results of %s: %w", wf, err)
	}
	page := Page{Items: make([]TestResults, 0, len(docs))}
	for _, d := range docs {
		var r TestResults
		if err := json.Unmarshal([]byte(d), &r); err != nil {
			return Page{}, fmt.Errorf("list results of %s: stored result does not parse: %w", wf, err)
		}
		page.Items = append(page.Items, r)
	}
	if next, err := upstash.Strings(v[1], nil); err == nil && len(next) == 2 {
		c := storekit.Cursor{Score: next[0], Member: next[1]}.Encode(cursorKind)
		page.NextCursor = &c
	}
	sum, err := upstash.Strings(v[2], nil)
	if err != nil || len(sum) != 5 {
		return Page{}, fmt.Errorf("list results of %s: bad summary %v", wf, v[2])
	}
	n := make([]int64, 4)
	for i := range n {
		n[i], _ = strconv.ParseInt(sum[i], 10, 64)
	}
	page.Summary = Summary{Runs: n[0], Passed: n[1], Failed: n[2], Skipped: n[3]}
	if ran := n[1] + n[2]; ran > 0 {
		rate := float64(n[1]) / float64(ran)
		page.Summary.PassRate = &rate
	}
	if sum[4] != "" {
		page.Summary.LatestTestID = &sum[4]
	}
	return page, nil
}

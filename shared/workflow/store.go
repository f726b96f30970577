package workflow

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/idempotency"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/storekit"
	"github.com/ai-rails/state-service/shared/upstash"
)

var (
	//go:embed write.lua
	writeLua string
	//go:embed delete.lua
	deleteLua string

	writeScript  = idempotency.Wrap(storekit.Script(writeLua))
	deleteScript = idempotency.Wrap(storekit.Script(deleteLua))
)

// Store keeps workflow states in the store, one round trip per call.
type Store struct {
	c    *upstash.Client
	keys keys.Schema
	now  func() time.Time
}

// NewStore returns a Store. now is the clock; nil means time.Now.
func NewStore(c *upstash.Client, k keys.Schema, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{c: c, keys: k, now: now}
}

// Condition is a request's precondition on the stored version.
type Condition struct {
	// Kind is "" (none), "match" (If-Match) or "none" (If-None-Match).
	Kind string
	// Any is true for "*".
	Any bool
	// Versions are the versions listed.
	Versions []int64
}

func (c Condition) list() string {
	if c.Any {
		return "*"
	}
	s := make([]string, len(c.Versions))
	for i, v := range c.Versions {
		s[i] = strconv.FormatInt(v, 10)
	}
	return strings.Join(s, ",")
}

// Change is a validated write. Nil fields are left as stored (or get their
// defaults on create). Raw JSON fields hold canonical JSON.
type Change struct {
	ID                 keys.WorkflowID
	Status             Status // "" when not given
	FeatureDescription json.RawMessage
	CurrentStage       json.RawMessage
	// Metadata replaces the stored metadata (Save), or is a merge patch of
	// it, or null to clear it (Patch).
	Metadata json.RawMessage
	TTLHours *int
	Cond     Condition
}

// Save creates the workflow or replaces the fields the change gives. It
// reports whether it created the workflow.
func (s *Store) Save(ctx context.Context, ch Change) (State, bool, error) {
	return s.write(ctx, "save", ch)
}

// Patch merge-patches a stored workflow.
func (s *Store) Patch(ctx context.Context, ch Change) (State, error) {
	st, _, err := s.write(ctx, "patch", ch)
	return st, err
}

func (s *Store) statusKeys(id keys.WorkflowID) []string {
	ks := []string{s.keys.Workflow(id), s.keys.History(id), s.keys.WorkflowIndex()}
	for _, st := range Statuses {
		ks = append(ks, s.keys.WorkflowStatusIndex(string(st)))
	}
	return ks
}

func statusList() string {
	s := make([]string, len(Statuses))
	for i, st := range Statuses {
		s[i] = string(st)
	}
	return strings.Join(s, ",")
}

// writeArgs are write.lua's arguments, sent by name as name, value pairs
// (a Lua loop reads them into a table, cheaper than parsing JSON). A raw
// JSON field left out keeps the stored value.
type writeArgs struct {
	Mode, ID, Now, CondKind, CondVersions, Statuses, Transitions, Status string
	FeatureDescription, CurrentStage, Metadata                           json.RawMessage
	TTLHours                                                             *int
	DefaultTTLHours, MaxMetadataBytes, MaxHistory                        int
}

// list is the arguments as the script reads them.
func (a writeArgs) list() []any {
	out := []any{"mode", a.Mode, "id", a.ID, "now", a.Now, "cond_kind", a.CondKind, "cond_versions", a.CondVersions,
		"statuses", a.Statuses, "transitions", a.Transitions, "status", a.Status,
		"default_ttl_hours", a.DefaultTTLHours, "max_metadata_bytes", a.MaxMetadataBytes, "max_history", a.MaxHistory}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{{"feature_description", a.FeatureDescription}, {"current_stage", a.CurrentStage}, {"metadata", a.Metadata}} {
		if f.raw != nil {
			out = append(out, f.name, string(f.raw))
		}
	}
	if a.TTLHours != nil {
		out = append(out, "ttl_hours", *a.TTLHours)
	}
	return out
}

func (s *Store) write(ctx context.Context, mode string, ch Change) (State, bool, error) {
	args := writeArgs{
		Mode: mode, ID: ch.ID.String(), Now: storekit.FormatTime(s.now()), CondKind: ch.Cond.Kind, CondVersions: ch.Cond.list(),
		Statuses: statusList(), Transitions: transitionSpec(), Status: string(ch.Status),
		FeatureDescription: ch.FeatureDescription, CurrentStage: ch.CurrentStage, Metadata: ch.Metadata, TTLHours: ch.TTLHours,
		DefaultTTLHours: DefaultTTLHours, MaxMetadataBytes: MaxMetadataBytes, MaxHistory: MaxHistory,
	}
	res, err := upstash.Strings(writeScript.Run(ctx, s.c, s.statusKeys(ch.ID), args.list()...))
	if err != nil {
		return State{}, false, fmt.Errorf("%s workflow %s: %w", mode, ch.ID, err)
	}
	if res[0] != "ok" {
		return State{}, false, scriptError(ch.ID, res[1:])
	}
	var st State
	if err := json.Unmarshal([]byte(res[1]), &st); err != nil {
		return State{}, false, fmt.Errorf("%s workflow %s: stored state does not parse: %w", mode, ch.ID, err)
	}
	return st, res[2] == "1", nil
}

// scriptError turns a script's {"err", code, ...} answer into an API error.
func scriptError(id keys.WorkflowID, e []string) error {
	switch e[0] {
	case "not_found":
		return apperr.New(apperr.NotFound, "workflow %s not found", id)
	case "precondition":
		if e[1] == "0" {
			return apperr.New(apperr.PreconditionFailed, "workflow %s does not exist", id)
		}
		return apperr.New(apperr.PreconditionFailed, "workflow %s is at version %s", id, e[1]).With("current_version", mustInt(e[1]))
	case "transition":
		from, to := Status(e[1]), Status(e[2])
		if e[3] == "" {
			return apperr.New(apperr.InvalidTransition, "workflow %s is %s, which is final; it cannot change to %s", id, from, to)
		}
		return apperr.New(apperr.InvalidTransition, "workflow %s cannot change from %s to %s; allowed: %s",
			id, from, to, strings.ReplaceAll(e[3], ",", ", "))
	case "required":
		return apperr.Invalid(apperr.Field(e[1], "is required to create a workflow"))
	case "metadata_too_large":
		return apperr.Invalid(apperr.Field("metadata", "must be at most %d bytes once merged (it would be %s)", MaxMetadataBytes, e[1]))
	}
	return fmt.Errorf("workflow %s: unexpected script answer %q", id, e)
}

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// Get reads one workflow.
func (s *Store) Get(ctx context.Context, id keys.WorkflowID) (State, error) {
	return storekit.Get[State](ctx, s.c, s.keys.Workflow(id), "workflow "+id.String())
}

// Delete deletes a workflow and adds the delete to its history.
func (s *Store) Delete(ctx context.Context, id keys.WorkflowID) error {
	res, err := upstash.Strings(deleteScript.Run(ctx, s.c, s.statusKeys(id),
		id.String(), storekit.FormatTime(s.now()), statusList(), MaxHistory))
	if err != nil {
		return fmt.Errorf("delete workflow %s: %w", id, err)
	}
	if res[0] != "ok" {
		return scriptError(id, res[1:])
	}
	return nil
}

// Page is one page of a list.
type Page struct {
	Items      []State `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// Cursor is a decoded list position: the score and member of the last entry
// returned.
type Cursor struct {
	Score  string
	Member keys.WorkflowID
}

const cursorKind = "w1"

// Encode returns the opaque form of the cursor.
func (c Cursor) Encode() string {
	return storekit.Cursor{Score: c.Score, Member: c.Member.String()}.Encode(cursorKind)
}

// ParseCursor decodes an opaque cursor.
func ParseCursor(s string) (Cursor, error) {
	c, err := storekit.ParseCursor(cursorKind, s, func(m string) error { _, err := keys.ParseWorkflowID(m); return err })
	if err != nil {
		return Cursor{}, err
	}
	id, _ := keys.ParseWorkflowID(c.Member)
	return Cursor{Score: c.Score, Member: id}, nil
}

// List returns workflows newest last_updated first, optionally only those
// of one status, after the cursor (nil for the first page).
func (s *Store) List(ctx context.Context, status Status, limit int, after *Cursor) (Page, error) {
	q := storekit.ListQuery{Index: s.keys.WorkflowIndex(), KeyPrefix: s.keys.WorkflowKeyPrefix(), Limit: limit}
	if status != "" {
		q.Index = s.keys.WorkflowStatusIndex(string(status))
	}
	if after != nil {
		q.After = &storekit.Cursor{Score: after.Score, Member: after.Member.String()}
	}
	docs, next, err := storekit.List(ctx, s.c, q)
	if err != nil {
		return Page{}, fmt.Errorf("list workflows: %w", err)
	}
	page := Page{Items: make([]State, 0, len(docs))}
	for _, d := range docs {
		var st State
		if err := json.Unmarshal([]byte(d), &st); err != nil {
			return Page{}, fmt.Errorf("list workflows: stored state does not parse: %w", err)
		}
		page.Items = append(page.Items, st)
	}
	if next != nil {
		id, err := keys.ParseWorkflowID(next.Member)
		if err != nil {
			return Page{}, fmt.Errorf("list workflows: index holds %w", err)
		}
		c := Cursor{Score: next.Score, Member: id}.Encode()
		page.NextCursor = &c
	}
	return page, nil
}

// History reads a workflow's events, oldest first. It is not found only when
// neither the history nor the state exists.
func (s *Store) History(ctx context.Context, id keys.WorkflowID) (History, error) {
	events, err := storekit.Trail[Event](ctx, s.c, s.keys.History(id), s.keys.Workflow(id), "history of workflow "+id.String())
	if err != nil {
		return History{}, err
	}
	return History{WorkflowID: id.String(), Events: events}, nil
}

package redisstore

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/caller"
	"github.com/ai-rails/state-service/shared/idempotency"
	"github.com/ai-rails/state-service/shared/jsondoc"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/storekit"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/workflow"
)

var (
	//go:embed workflow_write.lua
	workflowWriteLua string
	//go:embed workflow_delete.lua
	workflowDeleteLua string

	workflowWrite  = idempotency.Wrap(storekit.ScriptWith(workflowWriteLua, workflowConsts))
	workflowDelete = idempotency.Wrap(storekit.ScriptWith(workflowDeleteLua, workflowConsts))
)

// Workflows keeps workflow states, one round trip per call: the
// workflow.Service.
type Workflows struct {
	c    *upstash.Client
	keys keys.Schema
	now  func() time.Time
}

// NewWorkflows returns Workflows. now is the clock; nil means time.Now.
func NewWorkflows(c *upstash.Client, k keys.Schema, now func() time.Time) *Workflows {
	if now == nil {
		now = time.Now
	}
	return &Workflows{c: c, keys: k, now: now}
}

// workflowConsts are the workflow scripts' arguments that the workflow
// package fixes: its fields, statuses, transitions and limits. They are
// written into the scripts' source rather than sent with every call.
func workflowConsts() storekit.Args {
	return storekit.Args{"fields", stateFields, "statuses", statusList(), "transitions", transitionSpec(),
		"default_ttl_hours", workflow.DefaultTTLHours, "max_metadata_bytes", workflow.MaxMetadataBytes, "max_history", workflow.MaxHistory}
}

// versionList is the condition's versions as workflow_write.lua reads them.
func versionList(c workflow.Condition) string {
	if c.Any {
		return "*"
	}
	s := make([]string, len(c.Versions))
	for i, v := range c.Versions {
		s[i] = strconv.FormatInt(v, 10)
	}
	return strings.Join(s, ",")
}

// Save creates the workflow or replaces the fields the change gives. It
// reports whether it created the workflow.
func (s *Workflows) Save(ctx context.Context, ch workflow.Change) (workflow.State, bool, error) {
	return s.write(ctx, "save", ch)
}

// Patch merge-patches a stored workflow.
func (s *Workflows) Patch(ctx context.Context, ch workflow.Change) (workflow.State, error) {
	st, _, err := s.write(ctx, "patch", ch)
	return st, err
}

func (s *Workflows) statusKeys(id keys.WorkflowID) []string {
	ks := []string{s.keys.Workflow(id), s.keys.History(id), s.keys.WorkflowIndex()}
	for _, st := range workflow.Statuses {
		ks = append(ks, s.keys.WorkflowStatusIndex(string(st)))
	}
	return ks
}

// stateFields are the fields of a stored workflow.State, in order, for the
// write script: every JSON field but expires_at, which is worked out on
// read.
var stateFields = storedFields(reflect.TypeFor[workflow.State](), "expires_at")

// storedFields lists the JSON names of t's fields, but the derived ones.
func storedFields(t reflect.Type, derived ...string) string {
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" && !slices.Contains(derived, name) {
			names = append(names, name)
		}
	}
	return strings.Join(names, ",")
}

// transitionSpec encodes the status table for the write script:
// "pending:in_progress,failed;in_progress:completed,failed;...".
func transitionSpec() string {
	var parts []string
	for _, from := range workflow.Statuses {
		var to []string
		for _, s := range workflow.Allowed(from) {
			to = append(to, string(s))
		}
		parts = append(parts, string(from)+":"+strings.Join(to, ","))
	}
	return strings.Join(parts, ";")
}

func statusList() string {
	s := make([]string, len(workflow.Statuses))
	for i, st := range workflow.Statuses {
		s[i] = string(st)
	}
	return strings.Join(s, ",")
}

// writeArgs are workflow_write.lua's arguments, sent by name as name, value
// pairs (a Lua loop reads them into a table, cheaper than parsing JSON). A
// raw JSON field left out keeps the stored value. The fixed ones are the
// script's own (workflowConsts).
type writeArgs struct {
	Mode, ID, Now, NowText, CondKind, CondVersions, Status, Client string
	FeatureDescription, CurrentStage, Metadata                     json.RawMessage
	TTLHours                                                       *int
}

// list is the arguments as the script reads them.
func (a writeArgs) list() []any {
	out := []any{"mode", a.Mode, "id", a.ID, "now", a.Now, "now_text", a.NowText, "cond_kind", a.CondKind, "cond_versions", a.CondVersions,
		"status", a.Status, "client", a.Client}
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

// runTimed runs a workflow script with now, and again, once, with a later
// now when the script answers {"retry", t}: the stored time t is text (a
// document from before times were integers) that the clock has not passed.
func (s *Workflows) runTimed(ctx context.Context, sc *idempotency.Script, id keys.WorkflowID, args func(now time.Time) []any) ([]string, error) {
	now := s.now()
	for try := 0; ; try++ {
		res, err := upstash.Strings(sc.Run(ctx, s.c, s.statusKeys(id), args(now)...))
		if err != nil || res[0] != "retry" || try > 0 {
			return res, err
		}
		prev, err := time.Parse(time.RFC3339Nano, res[1])
		if err != nil {
			return nil, fmt.Errorf("workflow %s: stored last_updated %q: %w", id, res[1], err)
		}
		now = prev.Add(time.Nanosecond)
	}
}

func (s *Workflows) write(ctx context.Context, mode string, ch workflow.Change) (workflow.State, bool, error) {
	res, err := s.runTimed(ctx, workflowWrite, ch.ID, func(now time.Time) []any {
		return writeArgs{
			Mode: mode, ID: ch.ID.String(), Now: jsondoc.Nanos(now), NowText: jsondoc.FormatTime(now),
			CondKind: ch.Cond.Kind, CondVersions: versionList(ch.Cond), Status: string(ch.Status),
			FeatureDescription: ch.FeatureDescription, CurrentStage: ch.CurrentStage, Metadata: ch.Metadata, TTLHours: ch.TTLHours,
			Client: caller.Name(ctx),
		}.list()
	})
	if err != nil {
		return workflow.State{}, false, fmt.Errorf("%s workflow %s: %w", mode, ch.ID, err)
	}
	if res[0] != "ok" {
		return workflow.State{}, false, scriptError(ch.ID, res[1:])
	}
	var st workflow.State
	if err := jsondoc.Unmarshal([]byte(res[1]), &st); err != nil {
		return workflow.State{}, false, fmt.Errorf("%s workflow %s: stored state does not parse: %w", mode, ch.ID, err)
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
		from, to := workflow.Status(e[1]), workflow.Status(e[2])
		if e[3] == "" {
			return apperr.New(apperr.InvalidTransition, "workflow %s is %s, which is final; it cannot change to %s", id, from, to)
		}
		return apperr.New(apperr.InvalidTransition, "workflow %s cannot change from %s to %s; allowed: %s",
			id, from, to, strings.ReplaceAll(e[3], ",", ", "))
	case "required":
		return apperr.Invalid(apperr.Field(e[1], "is required to create a workflow"))
	case "metadata_too_large":
		return apperr.Invalid(apperr.Field("metadata", "must be at most %d bytes once merged (it would be %s)", workflow.MaxMetadataBytes, e[1]))
	}
	return fmt.Errorf("workflow %s: unexpected script answer %q", id, e)
}

func mustInt(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}

// Get reads one workflow.
func (s *Workflows) Get(ctx context.Context, id keys.WorkflowID) (workflow.State, error) {
	return storekit.Get[workflow.State](ctx, s.c, s.keys.Workflow(id), "workflow "+id.String())
}

// Delete deletes a workflow and adds the delete to its history.
func (s *Workflows) Delete(ctx context.Context, id keys.WorkflowID) error {
	res, err := s.runTimed(ctx, workflowDelete, id, func(now time.Time) []any {
		return storekit.Args{"id", id.String(), "now", jsondoc.Nanos(now), "now_text", jsondoc.FormatTime(now), "client", caller.Name(ctx)}
	})
	if err != nil {
		return fmt.Errorf("delete workflow %s: %w", id, err)
	}
	if res[0] != "ok" {
		return scriptError(id, res[1:])
	}
	return nil
}

// workflowCursor is a decoded list position: the score and member of the
// last entry returned.
type workflowCursor struct {
	Score  string
	Member keys.WorkflowID
}

const workflowCursorKind = "w1"

// Encode returns the opaque form of the cursor.
func (c workflowCursor) Encode() string {
	return storekit.Cursor{Score: c.Score, Member: c.Member.String()}.Encode(workflowCursorKind)
}

// parseWorkflowCursor decodes an opaque cursor.
func parseWorkflowCursor(s string) (workflowCursor, error) {
	c, err := storekit.ParseCursor(workflowCursorKind, s, func(m string) error { _, err := keys.ParseWorkflowID(m); return err })
	if err != nil {
		return workflowCursor{}, err
	}
	id, _ := keys.ParseWorkflowID(c.Member)
	return workflowCursor{Score: c.Score, Member: id}, nil
}

// List returns workflows newest last_updated first, optionally only those
// of one status, after the cursor.
func (s *Workflows) List(ctx context.Context, wq workflow.ListQuery) (workflow.Page, error) {
	q := storekit.ListQuery{Index: s.keys.WorkflowIndex(), KeyPrefix: s.keys.WorkflowKeyPrefix(), Limit: wq.Limit}
	if wq.Status != "" {
		q.Index = s.keys.WorkflowStatusIndex(string(wq.Status))
	}
	if wq.Cursor != "" {
		after, err := parseWorkflowCursor(wq.Cursor)
		if err != nil {
			return workflow.Page{}, err
		}
		q.After = &storekit.Cursor{Score: after.Score, Member: after.Member.String()}
	}
	docs, next, err := storekit.List(ctx, s.c, q)
	if err != nil {
		return workflow.Page{}, fmt.Errorf("list workflows: %w", err)
	}
	page := workflow.Page{Items: make([]workflow.State, 0, len(docs))}
	for _, d := range docs {
		var st workflow.State
		if err := jsondoc.Unmarshal([]byte(d), &st); err != nil {
			return workflow.Page{}, fmt.Errorf("list workflows: stored state does not parse: %w", err)
		}
		page.Items = append(page.Items, st)
	}
	if next != nil {
		id, err := keys.ParseWorkflowID(next.Member)
		if err != nil {
			return workflow.Page{}, fmt.Errorf("list workflows: index holds %w", err)
		}
		c := workflowCursor{Score: next.Score, Member: id}.Encode()
		page.NextCursor = &c
	}
	return page, nil
}

// History reads a workflow's events, oldest first, in one pipeline: the
// list and the document. A workflow that has had no write since it was made
// has no list: its "created" event is made from its document, as the first
// update stores it (history_push in lib.lua). It is not found only when
// neither the history nor the state exists.
func (s *Workflows) History(ctx context.Context, id keys.WorkflowID) (workflow.History, error) {
	what := "history of workflow " + id.String()
	res, err := s.c.Pipeline(ctx, []any{"LRANGE", s.keys.History(id), 0, -1}, []any{"GET", s.keys.Workflow(id)})
	if err == nil {
		err = res[0].Err
		if !errors.Is(res[1].Err, upstash.ErrNil) {
			err = errors.Join(err, res[1].Err)
		}
	}
	if err != nil {
		return workflow.History{}, fmt.Errorf("read %s: %w", what, err)
	}
	raw, err := upstash.Strings(res[0].Value, nil)
	if err != nil {
		return workflow.History{}, fmt.Errorf("read %s: %w", what, err)
	}
	h := workflow.History{WorkflowID: id.String(), Events: make([]workflow.Event, len(raw))}
	for i, r := range raw {
		if h.Events[i], err = decodeEvent(r); err != nil {
			return workflow.History{}, fmt.Errorf("read %s: event %d: %w", what, i, err)
		}
	}
	if len(raw) > 0 {
		return h, nil
	}
	doc, _ := res[1].Value.(string)
	if doc == "" {
		return workflow.History{}, apperr.New(apperr.NotFound, "%s not found", what)
	}
	var st workflow.State
	if err := jsondoc.Unmarshal([]byte(doc), &st); err != nil {
		return workflow.History{}, fmt.Errorf("read %s: stored state does not parse: %w", what, err)
	}
	if st.Version == 1 {
		h.Events = append(h.Events, workflow.Created(st))
	}
	return h, nil
}

// eventTypes are the compact event's type letters (history_event in
// lib.lua).
var eventTypes = map[string]string{"c": "created", "u": "updated", "d": "deleted"}

// decodeEvent reads a history event as its list keeps it: compact,
// "id|at|type|version|from|to|stage" (history_event in lib.lua), or JSON, as
// lists written before hold.
func decodeEvent(raw string) (workflow.Event, error) {
	var ev workflow.Event
	if strings.HasPrefix(raw, "{") {
		return ev, jsondoc.Unmarshal([]byte(raw), &ev)
	}
	f := strings.SplitN(raw, "|", 7)
	if len(f) != 7 {
		return ev, errors.New("not an event")
	}
	if _, err := strconv.ParseUint(f[0], 10, 64); err != nil {
		return ev, errors.New("the event's id is not a number")
	}
	ev.ID = f[0]
	if err := ev.At.UnmarshalJSON([]byte(f[1])); err != nil {
		return ev, err
	}
	ev.Type = eventTypes[f[2]]
	if ev.Type == "" {
		return ev, fmt.Errorf("unknown event type %q", f[2])
	}
	var err error
	if ev.Version, err = strconv.ParseInt(f[3], 10, 64); err != nil {
		return ev, errors.New("the event's version is not a number")
	}
	status := func(s string) *workflow.Status {
		if s == "" {
			return nil
		}
		st := workflow.Status(s)
		return &st
	}
	ev.StatusFrom, ev.StatusTo = status(f[4]), status(f[5])
	rawStage := f[6]
	// Events since clients hold the client before the stage; a stage is
	// JSON (null, or a quoted string), which no client's name begins with.
	if !strings.HasPrefix(rawStage, "null") && !strings.HasPrefix(rawStage, `"`) {
		client, stage, ok := strings.Cut(rawStage, "|")
		if !ok {
			return ev, errors.New("the event has no stage")
		}
		if client != "" {
			ev.Client = &client
		}
		rawStage = stage
	}
	if rawStage != "null" {
		var stage string
		if err := jsondoc.Unmarshal([]byte(rawStage), &stage); err != nil {
			return ev, fmt.Errorf("the event's stage: %w", err)
		}
		ev.Stage = &stage
	}
	return ev, nil
}

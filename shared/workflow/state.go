// Package workflow is the workflow state of API.md: its types, validation,
// status rules and the Service that keeps states. It holds no adapter: the
// store is redisstore.Workflows, the routes are in package handlers.
package workflow

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/ai-rails/state-service/shared/jsondoc"
	"github.com/ai-rails/state-service/shared/keys"
)

// Status is a workflow's status.
type Status string

// The statuses.
const (
	Pending    Status = "pending"
	InProgress Status = "in_progress"
	Completed  Status = "completed"
	Failed     Status = "failed"
)

// Statuses lists every status, in the order of the status indexes.
var Statuses = []Status{Pending, InProgress, Completed, Failed}

// transitions is the table of API.md: the statuses each status may change
// to. Staying in the same status is always allowed.
var transitions = map[Status][]Status{
	Pending:    {InProgress, Failed},
	InProgress: {Completed, Failed},
	Failed:     {InProgress},
	Completed:  {},
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool { _, ok := transitions[s]; return ok }

// CanChange reports whether a workflow in status from may move to to.
func CanChange(from, to Status) bool {
	return from == to || slices.Contains(transitions[from], to)
}

// Allowed returns the statuses from may change to, other than itself.
func Allowed(from Status) []Status { return slices.Clone(transitions[from]) }

// Limits of API.md.
const (
	MaxFeatureDescription = 4096 // characters
	MaxCurrentStage       = 256  // characters
	MaxMetadataBytes      = 32 << 10
	MinTTLHours           = int(keys.WorkflowMinTTL / time.Hour)
	MaxTTLHours           = int(keys.WorkflowMaxTTL / time.Hour)
	DefaultTTLHours       = int(keys.WorkflowDefaultTTL / time.Hour)
	// MaxMetadataDepth bounds nesting, so that no decoder on the way meets
	// a document deeper than it takes.
	MaxMetadataDepth = 32
	// MaxHistory is how many events a workflow's history keeps; older ones
	// are trimmed, so a long-running workflow cannot grow without bound.
	MaxHistory = 1000
)

// State is a workflow's state, as stored and answered. The store keeps
// times as integers (jsondoc.Time); answers show them as RFC 3339 in UTC
// with nine fractional digits.
type State struct {
	WorkflowID         string          `json:"workflow_id"`
	Status             Status          `json:"status"`
	FeatureDescription string          `json:"feature_description"`
	CurrentStage       string          `json:"current_stage"`
	CreatedAt          jsondoc.Time    `json:"created_at"`
	LastUpdated        jsondoc.Time    `json:"last_updated"`
	TTLHours           int             `json:"ttl_hours"`
	Version            int64           `json:"version"`
	ExpiresAt          jsondoc.Time    `json:"expires_at"`
	Metadata           json.RawMessage `json:"metadata"`
	// CreatedBy is the API client that created it (package access); absent
	// on workflows created before clients, or by no client.
	CreatedBy *string `json:"created_by,omitempty"`
}

// UnmarshalJSON reads a state and works out expires_at, which is not
// stored: it is always last_updated plus ttl_hours (the sliding TTL).
func (s *State) UnmarshalJSON(b []byte) error {
	type plain State
	if err := jsondoc.Unmarshal(b, (*plain)(s)); err != nil {
		return err
	}
	s.ExpiresAt = jsondoc.Time{Time: s.LastUpdated.Add(time.Duration(s.TTLHours) * time.Hour)}
	return nil
}

// Event is one entry of a workflow's history.
type Event struct {
	ID         string       `json:"id"`
	At         jsondoc.Time `json:"at"`
	Type       string       `json:"type"`
	Version    int64        `json:"version"`
	StatusFrom *Status      `json:"status_from"`
	StatusTo   *Status      `json:"status_to"`
	Stage      *string      `json:"stage"`
	// Client is the API client whose call made the event; null for events
	// stored before clients.
	Client *string `json:"client"`
}

// Created is the "created" event of a workflow at version 1, made from its
// state: the event a store does not keep until the first update.
func Created(st State) Event {
	status, stage := st.Status, st.CurrentStage
	return Event{ID: "1", At: st.CreatedAt, Type: "created", Version: 1, StatusTo: &status, Stage: &stage, Client: st.CreatedBy}
}

// History is a workflow's events, oldest first.
type History struct {
	WorkflowID string  `json:"workflow_id"`
	Events     []Event `json:"events"`
}

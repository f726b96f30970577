// Package approval is the human approvals of API.md: requests that a person
// approves or rejects once, which expire, keep an audit trail, and call
// n8n back with a signed webhook: their types, validation and rules, and the
// Service that decides and then has a Sender deliver. The store is
// redisstore.Approvals, the sender a webhook.Deliverer (package wiring
// adapts it), the routes are in package handlers.
package approval

import (
	"encoding/json"
	"time"

	"github.com/ai-rails/state-service/shared/jsondoc"
	"github.com/ai-rails/state-service/shared/keys"
)

// Status is an approval's status.
type Status string

// The statuses.
const (
	Pending  Status = "pending"
	Approved Status = "approved"
	Rejected Status = "rejected"
	Expired  Status = "expired"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	return s == Pending || s == Approved || s == Rejected || s == Expired
}

// Request types.
var requestTypes = map[string]bool{"test": true, "code": true, "deploy": true}

// Limits of API.md.
const (
	MaxContent       = 65536
	MaxRequester     = 256
	MaxApprover      = 256
	MaxComment       = 4096
	MinExpiresIn     = 60
	MaxExpiresIn     = 604800
	DefaultExpiresIn = 3600
	DefaultRetention = keys.ApprovalRetentionDefault
	EventDecided     = "approval.decided"
	EventExpired     = "approval.expired"
	// EventRequested tells the operator's notification endpoint
	// (APPROVAL_NOTIFY_URL) of a new approval that lists approvers, with
	// each one's link.
	EventRequested = "approval.requested"
	// EventReminder is a reminder of a pending approval, at one of its
	// remind_after_seconds.
	EventReminder = "approval.reminder"
	// MaxReminders bounds remind_after_seconds.
	MaxReminders = 3
)

// Who decided an approval: a person (through the API or a link), or the
// clock, when a pending approval ran out and its on_timeout was approved
// or rejected.
const (
	ByApprover = "approver"
	ByTimeout  = "timeout"
)

// OnTimeout is what a pending approval becomes when it runs out.
type OnTimeout string

// The outcomes on timeout: expired (the default), rejected or approved.
const (
	TimeoutExpired  OnTimeout = "expired"
	TimeoutRejected OnTimeout = "rejected"
	TimeoutApproved OnTimeout = "approved"
)

// Decision is a decided approval's decision.
type Decision struct {
	Decision string `json:"decision"`
	// Approver is who decided: null when the approval ran out (By is
	// "timeout").
	Approver *string `json:"approver"`
	Comment  *string `json:"comment,omitempty"`
	// By is "approver" or "timeout"; decisions stored before it existed
	// read as "approver".
	By        string `json:"by"`
	DecidedAt string `json:"decided_at"`
}

// Approval is an approval as stored and answered. The field order is the
// stored document's; decision stays last.
type Approval struct {
	ApprovalID  string  `json:"approval_id"`
	WorkflowID  string  `json:"workflow_id"`
	RequestType string  `json:"request_type"`
	Content     string  `json:"content"`
	Requester   string  `json:"requester"`
	CreatedAt   string  `json:"created_at"`
	ExpiresAt   string  `json:"expires_at"`
	Status      Status  `json:"status"`
	CallbackURL *string `json:"callback_url"`
	// Approvers, MinApprovals and Votes are set on an approval decided
	// through approvers' links.
	Approvers    []string `json:"approvers,omitzero"`
	MinApprovals int      `json:"min_approvals,omitzero"`
	Votes        []Vote   `json:"votes,omitzero"`
	// OnTimeout is what the approval becomes when it runs out pending;
	// approvals stored before it existed read as "expired".
	OnTimeout OnTimeout `json:"on_timeout"`
	// RemindAfterSeconds are the reminders' offsets from created_at, and
	// RemindersSent how many of them are behind (a late sweep sends only
	// the last one due).
	RemindAfterSeconds []int     `json:"remind_after_seconds,omitzero"`
	RemindersSent      int       `json:"reminders_sent,omitzero"`
	Decision           *Decision `json:"decision"`
}

// AsOf returns the approval as it reads at now: a pending approval whose
// expires_at has passed reads as its on_timeout outcome, whatever the
// sweeper has done: expired, or decided "by": "timeout" at expires_at.
// Approvals stored before on_timeout and "by" existed read with their
// defaults.
func (a Approval) AsOf(now time.Time) Approval {
	if a.OnTimeout == "" {
		a.OnTimeout = TimeoutExpired
	}
	if a.Decision != nil && a.Decision.By == "" {
		d := *a.Decision
		d.By = ByApprover
		a.Decision = &d
	}
	if a.Status == Pending && a.ExpiresAt <= jsondoc.FormatTime(now) {
		a.Status = Expired
		if a.OnTimeout != TimeoutExpired {
			a.Status = Status(a.OnTimeout)
			a.Decision = &Decision{Decision: string(a.OnTimeout), By: ByTimeout, DecidedAt: a.ExpiresAt}
		}
	}
	return a
}

// Final reports whether the approval is decided or expired: nothing
// changes it any more.
func (a Approval) Final() bool { return a.Status != Pending }

// Payload is a webhook's body: the approval and the event, and, only in
// what goes to the operator's notification endpoint, the approvers' links.
type Payload struct {
	Approval
	Event string            `json:"event"`
	Links map[string]string `json:"links,omitzero"`
}

// AuditEvent is one entry of an approval's audit trail.
type AuditEvent struct {
	ID    string  `json:"id"`
	At    string  `json:"at"`
	Type  string  `json:"type"`
	Actor *string `json:"actor"`
	// Client is the API client whose call made the event (package access);
	// null for the sweeper's, a link's, and events stored before clients.
	Client *string         `json:"client"`
	Detail json.RawMessage `json:"detail"`
}

// Audit is an approval's audit trail, oldest first.
type Audit struct {
	ApprovalID string       `json:"approval_id"`
	Events     []AuditEvent `json:"events"`
}

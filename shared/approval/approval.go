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
)

// Decision is a decided approval's decision.
type Decision struct {
	Decision  string  `json:"decision"`
	Approver  string  `json:"approver"`
	Comment   *string `json:"comment,omitempty"`
	DecidedAt string  `json:"decided_at"`
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
	Approvers    []string  `json:"approvers,omitzero"`
	MinApprovals int       `json:"min_approvals,omitzero"`
	Votes        []Vote    `json:"votes,omitzero"`
	Decision     *Decision `json:"decision"`
}

// AsOf returns the approval as it reads at now: a pending approval whose
// expires_at has passed reads as expired, whatever the sweeper has done.
func (a Approval) AsOf(now time.Time) Approval {
	if a.Status == Pending && a.ExpiresAt <= jsondoc.FormatTime(now) {
		a.Status = Expired
	}
	return a
}

// Payload is a webhook's body: the approval and the event.
type Payload struct {
	Approval
	Event string `json:"event"`
}

// AuditEvent is one entry of an approval's audit trail.
type AuditEvent struct {
	ID     string          `json:"id"`
	At     string          `json:"at"`
	Type   string          `json:"type"`
	Actor  *string         `json:"actor"`
	Detail json.RawMessage `json:"detail"`
}

// Audit is an approval's audit trail, oldest first.
type Audit struct {
	ApprovalID string       `json:"approval_id"`
	Events     []AuditEvent `json:"events"`
}

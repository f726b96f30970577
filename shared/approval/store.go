package approval

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/idempotency"
	"github.com/ai-rails/state-service/shared/identity"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/storekit"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/webhook"
)

// statuses gives the scripts the statuses by name, from the Go constants:
// they are stated once.
var statuses = fmt.Sprintf("local PENDING, APPROVED, REJECTED, EXPIRED = '%s', '%s', '%s', '%s'\n", Pending, Approved, Rejected, Expired)

var (
	//go:embed create.lua
	createLua string
	//go:embed decide.lua
	decideLua string
	//go:embed record.lua
	recordLua string
	//go:embed expire.lua
	expireLua string

	createScript = idempotency.Wrap(storekit.Script(createLua))
	decideScript = idempotency.Wrap(storekit.Script(statuses + decideLua))
	recordScript = storekit.Script(recordLua)
	expireScript = storekit.Script(statuses + expireLua)
)

// RetryDelay is how long an undelivered webhook waits in the outbox before
// the sweeper tries it again.
const RetryDelay = time.Minute

// Store keeps approvals, one round trip per call. It only persists: the
// Service decides what to deliver, and its Sender delivers it.
type Store struct {
	c         *upstash.Client
	keys      keys.Schema
	now       func() time.Time
	retention time.Duration
}

// Config configures a Store.
type Config struct {
	Retention time.Duration // default DefaultRetention
	Now       func() time.Time
}

// NewStore returns a Store.
func NewStore(c *upstash.Client, k keys.Schema, cfg Config) *Store {
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Store{c: c, keys: k, now: cfg.Now, retention: cfg.Retention}
}

func decode(doc string) (Approval, error) {
	var a Approval
	if err := json.Unmarshal([]byte(doc), &a); err != nil {
		return Approval{}, fmt.Errorf("stored approval does not parse: %w", err)
	}
	return a, nil
}

// stored is an approval as the store keeps it.
type stored struct {
	Approval
	// RequesterKey is identity.Canonical(Requester).
	RequesterKey string `json:"requester_key"`
}

// Create stores a new approval for a workflow that exists. Under an
// Idempotency-Key (see package idempotency), a repeat of the request
// answers the first answer.
func (s *Store) Create(ctx context.Context, in CreateRequest) (Approval, error) {
	now := s.now()
	id := keys.NewApprovalID()
	expires := now.Add(time.Duration(in.ExpiresInSeconds) * time.Second)
	a := Approval{
		ApprovalID: id.String(), WorkflowID: in.WorkflowID.String(), RequestType: in.RequestType,
		Content: in.Content, Requester: in.Requester, CreatedAt: storekit.FormatTime(now),
		ExpiresAt: storekit.FormatTime(expires), Status: Pending, CallbackURL: in.CallbackURL,
	}
	// The stored document also holds the requester's canonical form, which
	// the decision script compares approvers with; answers leave it out.
	doc := storekit.Canonical(stored{Approval: a, RequesterKey: identity.Canonical(a.Requester)})
	ttl := time.Duration(in.ExpiresInSeconds)*time.Second + s.retention
	detail := storekit.Canonical(map[string]any{"request_type": a.RequestType, "expires_at": a.ExpiresAt})
	res, err := upstash.Strings(createScript.Run(ctx, s.c,
		[]string{s.keys.Workflow(in.WorkflowID), s.keys.Approval(id), s.keys.Audit(id), s.keys.PendingApprovals(),
			s.keys.WorkflowApprovals(in.WorkflowID), s.keys.ApprovalIndex()},
		doc, id.String(), ttl.Milliseconds(), expires.UnixMilli(), now.UnixMilli(), string(storekit.Canonical(a.Requester)), detail,
		a.CreatedAt))
	if err != nil {
		return Approval{}, fmt.Errorf("create approval: %w", err)
	}
	if res[0] == "no_workflow" {
		return Approval{}, apperr.New(apperr.NotFound, "workflow %s not found", in.WorkflowID)
	}
	return decode(res[1])
}

// Get reads one approval, as it reads now.
func (s *Store) Get(ctx context.Context, id keys.ApprovalID) (Approval, error) {
	a, err := storekit.Get[Approval](ctx, s.c, s.keys.Approval(id), "approval "+id.String())
	return a.AsOf(s.now()), err
}

// Decide records the first decision; see decide.lua for the rules. A
// decision on an approval with a callback also queues its webhook in the
// outbox, in the same step; the Entry is returned for delivery.
func (s *Store) Decide(ctx context.Context, id keys.ApprovalID, in DecideRequest, allowSelf bool) (Approval, *Entry, error) {
	now := s.now()
	comment := ""
	if in.Comment != nil {
		comment = string(storekit.Canonical(*in.Comment))
	}
	self := "0"
	if allowSelf {
		self = "1"
	}
	res, err := upstash.Strings(decideScript.Run(ctx, s.c,
		[]string{s.keys.Approval(id), s.keys.Audit(id), s.keys.PendingApprovals(), s.keys.Outbox()},
		in.Decision, string(storekit.Canonical(in.Approver)), comment, storekit.FormatTime(now), self,
		s.retention.Milliseconds(), uuid.NewString(), in.Approver, now.UnixMilli(),
		string(storekit.Canonical(identity.Canonical(in.Approver)))))
	if err != nil {
		return Approval{}, nil, fmt.Errorf("decide approval %s: %w", id, err)
	}
	var a Approval
	if len(res) > 1 {
		if a, err = decode(res[1]); err != nil {
			return Approval{}, nil, err
		}
		a = a.AsOf(now)
	}
	switch res[0] {
	case "not_found":
		return Approval{}, nil, apperr.New(apperr.NotFound, "approval %s not found", id)
	case "decided":
		return Approval{}, nil, apperr.New(apperr.Conflict, "approval %s was already %s by %s", id, a.Decision.Decision, a.Decision.Approver).With("approval", a)
	case "gone":
		return Approval{}, nil, apperr.New(apperr.Gone, "approval %s expired at %s", id, a.ExpiresAt)
	case "self":
		return Approval{}, nil, apperr.New(apperr.Forbidden, "the requester cannot decide their own approval")
	case "ok":
		if res[2] != "" {
			e, err := ParseEntry(res[2])
			if err != nil {
				return a, nil, err
			}
			return a, &e, nil
		}
	}
	return a, nil, nil
}

// Entry is an outbox entry: "delivery id|approval id|event|first attempt ms".
type Entry struct {
	delivery, event string
	approval        keys.ApprovalID
	first           int64
	member          string
}

func ParseEntry(member string) (Entry, error) {
	p := strings.Split(member, "|")
	if len(p) != 4 {
		return Entry{}, fmt.Errorf("outbox Entry %q is malformed", member)
	}
	id, err := keys.ParseApprovalID(p[1])
	if err != nil {
		return Entry{}, err
	}
	first, err := strconv.ParseInt(p[3], 10, 64)
	if err != nil {
		return Entry{}, fmt.Errorf("outbox Entry %q is malformed", member)
	}
	return Entry{delivery: p[0], approval: id, event: p[2], first: first, member: member}, nil
}

// RecordDelivery records a webhook's attempts in the audit trail, and
// takes the Entry out of the outbox when one was delivered, or moves its
// next try to retryAt. It reports whether it was delivered.
func (s *Store) RecordDelivery(ctx context.Context, e Entry, attempts []webhook.Attempt, retryAt time.Time) (bool, error) {
	args := []any{e.member, "0", retryAt.UnixMilli(), len(attempts)}
	for i, at := range attempts {
		typ := "webhook_failed"
		if at.Delivered {
			typ, args[1] = "webhook_delivered", "1"
		}
		detail := map[string]any{"delivery_id": e.delivery, "event": e.event, "attempt": i + 1}
		if at.StatusCode != 0 {
			detail["status_code"] = at.StatusCode
		}
		if at.Error != "" {
			detail["error"] = at.Error
		}
		args = append(args, typ, storekit.FormatTime(at.At), string(storekit.Canonical(detail)))
	}
	_, err := recordScript.Run(ctx, s.c, []string{s.keys.Audit(e.approval), s.keys.Outbox()}, args...)
	if err != nil {
		return false, fmt.Errorf("record webhook of approval %s: %w", e.approval, err)
	}
	return args[1] == "1", nil
}

// ExpireDue expires up to limit pending approvals whose expires_at is not
// after now, and queues their approval.expired webhooks. It returns how
// many it expired, and whether more may be due.
func (s *Store) ExpireDue(ctx context.Context, limit int) (int, bool, error) {
	now := s.now()
	ids, err := upstash.Strings(s.c.Do(ctx, "ZRANGEBYSCORE", s.keys.PendingApprovals(), "-inf", now.UnixMilli(), "LIMIT", 0, limit))
	if err != nil || len(ids) == 0 {
		return 0, false, err
	}
	ks := []string{s.keys.PendingApprovals(), s.keys.Outbox()}
	args := []any{storekit.FormatTime(now), now.UnixMilli(), s.retention.Milliseconds()}
	for _, raw := range ids {
		id, err := keys.ParseApprovalID(raw)
		if err != nil {
			// Not an id this service wrote: drop it from the index.
			_, _ = s.c.Do(ctx, "ZREM", s.keys.PendingApprovals(), raw)
			continue
		}
		ks = append(ks, s.keys.Approval(id), s.keys.Audit(id))
		args = append(args, id.String(), uuid.NewString())
	}
	n, err := upstash.Int64(expireScript.Run(ctx, s.c, ks, args...))
	if err != nil {
		return 0, false, fmt.Errorf("expire approvals: %w", err)
	}
	return int(n), len(ids) == limit, nil
}

// OutboxGiveUp is how long an undelivered webhook is retried.
const OutboxGiveUp = keys.OutboxRetryWindow

// Backoff is the wait before the next try of a webhook first tried age
// ago: half its age, from RetryDelay up to an hour.
func Backoff(age time.Duration) time.Duration {
	return min(max(age/2, RetryDelay), time.Hour)
}

// DeliveryReport counts what DeliverDue did.
type DeliveryReport struct {
	Delivered int `json:"delivered"`
	Failed    int `json:"failed"`
	GaveUp    int `json:"gave_up"`
	Dropped   int `json:"dropped"` // their approval is gone
}

// DueEntries reads up to limit outbox entries whose next try is due.
func (s *Store) DueEntries(ctx context.Context, limit int) ([]string, error) {
	members, err := upstash.Strings(s.c.Do(ctx, "ZRANGEBYSCORE", s.keys.Outbox(), "-inf", s.now().UnixMilli(), "LIMIT", 0, limit))
	if err != nil {
		return nil, fmt.Errorf("read the outbox: %w", err)
	}
	return members, nil
}

// DropEntry takes an entry out of the outbox without a trace: it does not
// parse, or its approval is gone.
func (s *Store) DropEntry(ctx context.Context, member string) error {
	_, err := s.c.Do(ctx, "ZREM", s.keys.Outbox(), member)
	return err
}

// GiveUp takes an entry out of the outbox, with a webhook_failed event in
// the audit trail.
func (s *Store) GiveUp(ctx context.Context, e Entry) error {
	detail := storekit.Canonical(map[string]any{"delivery_id": e.delivery, "event": e.event, "error": "gave up after 24 hours"})
	if _, err := recordScript.Run(ctx, s.c, []string{s.keys.Audit(e.approval), s.keys.Outbox()},
		e.member, "giveup", 0, 1, "webhook_failed", storekit.FormatTime(s.now()), string(detail)); err != nil {
		return fmt.Errorf("give up on webhook of approval %s: %w", e.approval, err)
	}
	return nil
}

// Page is one page of approvals.
type Page struct {
	Items      []Approval `json:"items"`
	NextCursor *string    `json:"next_cursor"`
}

const cursorKind = "a1"

// ParseCursor decodes a cursor of the approval list.
func ParseCursor(s string) (*storekit.Cursor, error) {
	c, err := storekit.ParseCursor(cursorKind, s, func(m string) error { _, err := keys.ParseApprovalID(m); return err })
	return &c, err
}

// List returns approvals newest first, of one workflow or of all, optionally
// of one status (as they read now).
func (s *Store) List(ctx context.Context, wf *keys.WorkflowID, status Status, limit int, after *storekit.Cursor) (Page, error) {
	now := s.now()
	q := storekit.ListQuery{Index: s.keys.ApprovalIndex(), KeyPrefix: s.keys.ApprovalKeyPrefix(), Limit: limit, After: after,
		Status: string(status), Expiring: string(Pending), Now: storekit.FormatTime(now)}
	if wf != nil {
		q.Index = s.keys.WorkflowApprovals(*wf)
	}
	docs, next, err := storekit.List(ctx, s.c, q)
	if err != nil {
		return Page{}, fmt.Errorf("list approvals: %w", err)
	}
	page := Page{Items: make([]Approval, 0, len(docs))}
	for _, d := range docs {
		a, err := decode(d)
		if err != nil {
			return Page{}, err
		}
		page.Items = append(page.Items, a.AsOf(now))
	}
	if next != nil {
		c := next.Encode(cursorKind)
		page.NextCursor = &c
	}
	return page, nil
}

// Audit reads an approval's audit trail. It is not found only when neither
// the trail nor the approval exists.
func (s *Store) Audit(ctx context.Context, id keys.ApprovalID) (Audit, error) {
	events, err := storekit.Trail[AuditEvent](ctx, s.c, s.keys.Audit(id), s.keys.Approval(id), "approval "+id.String())
	if err != nil {
		return Audit{}, err
	}
	return Audit{ApprovalID: id.String(), Events: events}, nil
}

package redisstore

import (
	"context"
	_ "embed"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/approval"
	"github.com/ai-rails/state-service/shared/caller"
	"github.com/ai-rails/state-service/shared/idempotency"
	"github.com/ai-rails/state-service/shared/identity"
	"github.com/ai-rails/state-service/shared/jsondoc"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/storekit"
	"github.com/ai-rails/state-service/shared/upstash"
)

// approvalStatuses gives the scripts the statuses by name, from the Go
// constants: they are stated once.
var approvalStatuses = fmt.Sprintf("local PENDING, APPROVED, REJECTED, EXPIRED = '%s', '%s', '%s', '%s'\n",
	approval.Pending, approval.Approved, approval.Rejected, approval.Expired) + approvalTimeoutLua

// approvalTimeoutLua tells the scripts whether an approval's on_timeout
// decides it (approved or rejected) rather than expiring it; f is the
// document's members (json_members).
const approvalTimeoutLua = `local function timed_out_decided(f)
  local t = f['"on_timeout"']
  return t == '"' .. APPROVED .. '"' or t == '"' .. REJECTED .. '"'
end
`

var (
	//go:embed approval_create.lua
	approvalCreateLua string
	//go:embed approval_decide.lua
	approvalDecideLua string
	//go:embed approval_record.lua
	approvalRecordLua string
	//go:embed approval_expire.lua
	approvalExpireLua string
	//go:embed approval_vote.lua
	approvalVoteLua string
	//go:embed approval_remind.lua
	approvalRemindLua string

	approvalCreate = idempotency.Wrap(storekit.Script(approvalCreateLua))
	approvalDecide = idempotency.Wrap(storekit.Script(approvalStatuses + approvalDecideLua))
	approvalRecord = storekit.Script(approvalRecordLua)
	approvalExpire = storekit.Script(approvalStatuses + approvalExpireLua)
	approvalVote   = idempotency.Wrap(storekit.Script(approvalStatuses + approvalVoteLua))
	approvalRemind = storekit.Script(approvalStatuses + approvalRemindLua)
)

// Approvals keeps approvals, one round trip per call: the approval.Store.
// It only persists: approval.Service decides what to deliver, and its
// Sender delivers it.
type Approvals struct {
	c         *upstash.Client
	keys      keys.Schema
	now       func() time.Time
	retention time.Duration
}

var _ approval.Store = (*Approvals)(nil)

// NewApprovals returns Approvals. A decided or expired approval is kept for
// retention (approval.DefaultRetention when zero); now nil means time.Now.
func NewApprovals(c *upstash.Client, k keys.Schema, retention time.Duration, now func() time.Time) *Approvals {
	if retention <= 0 {
		retention = approval.DefaultRetention
	}
	if now == nil {
		now = time.Now
	}
	return &Approvals{c: c, keys: k, now: now, retention: retention}
}

func decodeApproval(doc string) (approval.Approval, error) {
	var a approval.Approval
	if err := jsondoc.Unmarshal([]byte(doc), &a); err != nil {
		return approval.Approval{}, fmt.Errorf("stored approval does not parse: %w", err)
	}
	return a, nil
}

// stored is an approval as the store keeps it.
type storedApproval struct {
	approval.Approval
	// RequesterKey is identity.Canonical(Requester).
	RequesterKey string `json:"requester_key"`
	// Voters are the approvers by their index, as text ("0", "1", ...).
	Voters map[string]string `json:"voters,omitzero"`
}

// Create stores a new approval for a workflow that exists, and with
// in.Notify, queues its approval.requested event for the notification
// endpoint in the same step. Under an Idempotency-Key (see package
// idempotency), a repeat of the request answers the first answer, and
// queues nothing.
func (s *Approvals) Create(ctx context.Context, in approval.CreateRequest) (approval.Approval, *approval.Entry, error) {
	now := s.now()
	id := keys.NewApprovalID()
	expires := now.Add(time.Duration(in.ExpiresInSeconds) * time.Second)
	onTimeout := in.OnTimeout
	if onTimeout == "" {
		onTimeout = approval.TimeoutExpired
	}
	a := approval.Approval{
		ApprovalID: id.String(), WorkflowID: in.WorkflowID.String(), RequestType: in.RequestType,
		Content: in.Content, Requester: in.Requester, CreatedAt: jsondoc.FormatTime(now),
		ExpiresAt: jsondoc.FormatTime(expires), Status: approval.Pending, CallbackURL: in.CallbackURL,
		OnTimeout: onTimeout, RemindAfterSeconds: in.RemindAfterSeconds,
	}
	st := storedApproval{Approval: a, RequesterKey: identity.Canonical(a.Requester)}
	if len(in.Approvers) > 0 {
		st.Approvers, st.MinApprovals, st.Votes = in.Approvers, in.MinApprovals, []approval.Vote{}
		st.Voters = map[string]string{}
		for i, name := range in.Approvers {
			st.Voters[strconv.Itoa(i)] = name
		}
	}
	// The stored document also holds the requester's canonical form, which
	// the decision script compares approvers with, and the approvers by
	// index, which the vote script finds a link's approver by; answers leave
	// both out.
	doc := jsondoc.Canonical(st)
	ttl := time.Duration(in.ExpiresInSeconds)*time.Second + s.retention
	detail := map[string]any{"request_type": a.RequestType, "expires_at": a.ExpiresAt}
	if in.OnTimeout != "" {
		detail["on_timeout"] = in.OnTimeout
	}
	notify := ""
	if in.Notify {
		notify = approval.FormatEntry(approval.Entry{Delivery: uuid.NewString(), Approval: id, Event: approval.EventRequested, First: now.UnixMilli(), Notify: true})
	}
	args := storekit.Args{"doc", doc, "id", id.String(), "ttl_ms", ttl.Milliseconds(), "expires_ms", expires.UnixMilli(),
		"created_ms", now.UnixMilli(), "requester", string(jsondoc.Canonical(a.Requester)), "detail", jsondoc.Canonical(detail),
		"created_at", a.CreatedAt, "reminders", len(in.RemindAfterSeconds), "notify", notify, "client", caller.Name(ctx)}
	for i, off := range in.RemindAfterSeconds {
		args = args.Add("remind_ms."+strconv.Itoa(i+1), now.Add(time.Duration(off)*time.Second).UnixMilli())
	}
	res, err := upstash.Strings(approvalCreate.Run(ctx, s.c,
		[]string{s.keys.Workflow(in.WorkflowID), s.keys.Approval(id), s.keys.Audit(id), s.keys.PendingApprovals(),
			s.keys.WorkflowApprovals(in.WorkflowID), s.keys.ApprovalIndex(), s.keys.ApprovalReminders(), s.keys.Outbox()},
		args...))
	if err != nil {
		return approval.Approval{}, nil, fmt.Errorf("create approval: %w", err)
	}
	if res[0] == "no_workflow" {
		return approval.Approval{}, nil, apperr.New(apperr.NotFound, "workflow %s not found", in.WorkflowID)
	}
	a, err = decodeApproval(res[1])
	if err != nil {
		return a, nil, err
	}
	member := ""
	if len(res) > 2 {
		member = res[2]
	}
	return queued(ctx, a.AsOf(now), member)
}

// Get reads one approval, as it reads now.
func (s *Approvals) Get(ctx context.Context, id keys.ApprovalID) (approval.Approval, error) {
	a, err := storekit.Get[approval.Approval](ctx, s.c, s.keys.Approval(id), "approval "+id.String())
	return a.AsOf(s.now()), err
}

// Decide records the first decision; see approval_decide.lua for the rules. A
// decision on an approval with a callback also queues its webhook in the
// outbox, in the same step; the approval.Entry is returned for delivery.
func (s *Approvals) Decide(ctx context.Context, id keys.ApprovalID, in approval.DecideRequest, allowSelf bool) (approval.Approval, *approval.Entry, error) {
	now := s.now()
	comment := optionalJSON(in.Comment)
	self := "0"
	if allowSelf {
		self = "1"
	}
	res, err := upstash.Strings(approvalDecide.Run(ctx, s.c,
		[]string{s.keys.Approval(id), s.keys.Audit(id), s.keys.PendingApprovals(), s.keys.Outbox()},
		storekit.Args{"decision", in.Decision, "approver", string(jsondoc.Canonical(in.Approver)), "comment", comment,
			"now", jsondoc.FormatTime(now), "now_ms", now.UnixMilli(), "allow_self", self,
			"retention_ms", s.retention.Milliseconds(), "delivery", uuid.NewString(),
			"approver_key", string(jsondoc.Canonical(identity.Canonical(in.Approver))), "client", caller.Name(ctx)}...))
	if err != nil {
		return approval.Approval{}, nil, fmt.Errorf("decide approval %s: %w", id, err)
	}
	a, err := replyApproval(res, now)
	if err != nil {
		return approval.Approval{}, nil, err
	}
	switch res[0] {
	case "not_found":
		return approval.Approval{}, nil, apperr.New(apperr.NotFound, "approval %s not found", id)
	case "decided":
		return approval.Approval{}, nil, apperr.New(apperr.Conflict, "approval %s was already %s by %s", id, a.Decision.Decision, decider(a.Decision)).With("approval", a)
	case "gone":
		return approval.Approval{}, nil, apperr.New(apperr.Gone, "approval %s expired at %s", id, a.ExpiresAt)
	case "self":
		return approval.Approval{}, nil, apperr.New(apperr.Forbidden, "the requester cannot decide their own approval")
	case "links":
		return approval.Approval{}, nil, apperr.New(apperr.Forbidden, "approval %s lists approvers: it is decided only through their links", id)
	case "ok":
		return queued(ctx, a, res[2])
	}
	return a, nil, nil
}

// decider names who made a decision: the approver, or "timeout".
func decider(d *approval.Decision) string {
	if d.Approver == nil {
		return d.By
	}
	return *d.Approver
}

// optionalJSON is a comment as the scripts take it: a JSON string, or "".
func optionalJSON(s *string) string {
	if s == nil {
		return ""
	}
	return string(jsondoc.Canonical(*s))
}

// replyApproval decodes the approval a decide or vote script answered
// with its outcome, as it reads at now; an answer without one is the zero
// Approval.
func replyApproval(res []string, now time.Time) (approval.Approval, error) {
	if len(res) < 2 {
		return approval.Approval{}, nil
	}
	a, err := decodeApproval(res[1])
	return a.AsOf(now), err
}

// queued returns the outbox entry an "ok" decision or vote queued (member,
// or "" for none). A replayed request (Idempotency-Key) gets none: its
// first run delivered or queued the webhook.
func queued(ctx context.Context, a approval.Approval, member string) (approval.Approval, *approval.Entry, error) {
	if member == "" || idempotency.Replayed(ctx) {
		return a, nil, nil
	}
	e, err := approval.ParseEntry(member)
	if err != nil {
		return a, nil, err
	}
	return a, &e, nil
}

// Vote records the vote of the approver at index; see approval_vote.lua
// for the rules.
func (s *Approvals) Vote(ctx context.Context, id keys.ApprovalID, index int, in approval.VoteRequest) (approval.Approval, *approval.Entry, error) {
	now := s.now()
	comment := optionalJSON(in.Comment)
	res, err := upstash.Strings(approvalVote.Run(ctx, s.c,
		[]string{s.keys.Approval(id), s.keys.Audit(id), s.keys.PendingApprovals(), s.keys.Outbox()},
		storekit.Args{"index", index, "decision", in.Decision, "comment", comment, "now", jsondoc.FormatTime(now),
			"now_ms", now.UnixMilli(), "retention_ms", s.retention.Milliseconds(), "delivery", uuid.NewString()}...))
	if err != nil {
		return approval.Approval{}, nil, fmt.Errorf("vote on approval %s: %w", id, err)
	}
	a, err := replyApproval(res, now)
	if err != nil {
		return approval.Approval{}, nil, err
	}
	switch res[0] {
	case "not_found":
		return approval.Approval{}, nil, apperr.New(apperr.NotFound, "approval %s not found, or it has no approver %d", id, index)
	case "conflict":
		return approval.Approval{}, nil, apperr.New(apperr.Conflict, "this approver already voted otherwise on approval %s", id).With("approval", a)
	case "final":
		return approval.Approval{}, nil, apperr.New(apperr.Conflict, "approval %s is already %s", id, a.Status).With("approval", a)
	case "gone":
		return approval.Approval{}, nil, apperr.New(apperr.Gone, "approval %s expired at %s", id, a.ExpiresAt)
	case "ok":
		return queued(ctx, a, res[2])
	}
	return a, nil, nil
}

// RecordDelivery records a webhook's attempts in the audit trail, and
// takes the approval.Entry out of the outbox when one was delivered, or moves its
// next try to retryAt. It reports whether it was delivered.
func (s *Approvals) RecordDelivery(ctx context.Context, e approval.Entry, attempts []approval.Attempt, retryAt time.Time) (bool, error) {
	outcome := "0"
	args := storekit.Args{"member", e.Member, "retry_ms", retryAt.UnixMilli(), "attempts", len(attempts)}
	for i, at := range attempts {
		typ := "webhook_failed"
		if at.Delivered {
			typ, outcome = "webhook_delivered", "1"
		}
		detail := map[string]any{"delivery_id": e.Delivery, "event": e.Event, "attempt": i + 1}
		if at.StatusCode != 0 {
			detail["status_code"] = at.StatusCode
		}
		if at.Error != "" {
			detail["error"] = at.Error
		}
		n := strconv.Itoa(i + 1)
		args = args.Add("type."+n, typ).Add("at."+n, jsondoc.FormatTime(at.At)).Add("detail."+n, string(jsondoc.Canonical(detail)))
	}
	args = args.Add("outcome", outcome)
	_, err := approvalRecord.Run(ctx, s.c, []string{s.keys.Audit(e.Approval), s.keys.Outbox()}, args...)
	if err != nil {
		return false, fmt.Errorf("record webhook of approval %s: %w", e.Approval, err)
	}
	return outcome == "1", nil
}

// ExpireDue expires up to limit pending approvals whose expires_at is not
// after now, and queues their approval.expired webhooks. It returns how
// many it expired, and whether more may be due.
func (s *Approvals) ExpireDue(ctx context.Context, limit int) (int, bool, error) {
	now := s.now()
	ids, err := upstash.Strings(s.c.Do(ctx, "ZRANGEBYSCORE", s.keys.PendingApprovals(), "-inf", now.UnixMilli(), "LIMIT", 0, limit))
	if err != nil || len(ids) == 0 {
		return 0, false, err
	}
	ks := []string{s.keys.PendingApprovals(), s.keys.Outbox()}
	args := storekit.Args{"now", jsondoc.FormatTime(now), "now_ms", now.UnixMilli(), "retention_ms", s.retention.Milliseconds()}
	for _, raw := range ids {
		id, err := keys.ParseApprovalID(raw)
		if err != nil {
			// Not an id this service wrote: drop it from the index.
			_, _ = s.c.Do(ctx, "ZREM", s.keys.PendingApprovals(), raw)
			continue
		}
		ks = append(ks, s.keys.Approval(id), s.keys.Audit(id))
		n := strconv.Itoa(len(ks)/2 - 1)
		args = args.Add("id."+n, id.String()).Add("delivery."+n, uuid.NewString())
	}
	n, err := upstash.Int64(approvalExpire.Run(ctx, s.c, ks, args...))
	if err != nil {
		return 0, false, fmt.Errorf("expire approvals: %w", err)
	}
	return int(n), len(ids) == limit, nil
}

// QueueReminders queues up to limit reminders that are due, each once; see
// approval_remind.lua. It returns how many it sent, and whether more may
// be due.
func (s *Approvals) QueueReminders(ctx context.Context, limit int, notify bool) (int, bool, error) {
	now := s.now()
	members, err := upstash.Strings(s.c.Do(ctx, "ZRANGEBYSCORE", s.keys.ApprovalReminders(), "-inf", now.UnixMilli(), "LIMIT", 0, limit))
	if err != nil || len(members) == 0 {
		return 0, false, err
	}
	flag := "0"
	if notify {
		flag = "1"
	}
	ks := []string{s.keys.ApprovalReminders(), s.keys.Outbox()}
	args := storekit.Args{"now", jsondoc.FormatTime(now), "now_ms", now.UnixMilli(), "notify", flag}
	// An approval's last reminder due goes first, so that the script sends
	// it and drops the earlier ones.
	slices.SortStableFunc(members, func(a, b string) int { return strings.Compare(b, a) })
	for _, m := range members {
		raw, nth, _ := strings.Cut(m, "|")
		id, err := keys.ParseApprovalID(raw)
		n, nerr := strconv.Atoi(nth)
		if err != nil || nerr != nil || n < 1 || n > approval.MaxReminders {
			// Not a reminder this service wrote: drop it from the index.
			_, _ = s.c.Do(ctx, "ZREM", s.keys.ApprovalReminders(), m)
			continue
		}
		ks = append(ks, s.keys.Approval(id), s.keys.Audit(id))
		i := strconv.Itoa(len(ks)/2 - 1)
		args = args.Add("member."+i, m).Add("id."+i, id.String()).Add("n."+i, n).
			Add("delivery."+i, uuid.NewString()).Add("notify_delivery."+i, uuid.NewString())
	}
	sent, err := upstash.Int64(approvalRemind.Run(ctx, s.c, ks, args...))
	if err != nil {
		return 0, false, fmt.Errorf("queue reminders: %w", err)
	}
	return int(sent), len(members) == limit, nil
}

// DueEntries reads up to limit outbox entries whose next try is due.
func (s *Approvals) DueEntries(ctx context.Context, limit int) ([]string, error) {
	members, err := upstash.Strings(s.c.Do(ctx, "ZRANGEBYSCORE", s.keys.Outbox(), "-inf", s.now().UnixMilli(), "LIMIT", 0, limit))
	if err != nil {
		return nil, fmt.Errorf("read the outbox: %w", err)
	}
	return members, nil
}

// DropEntry takes an entry out of the outbox without a trace: it does not
// parse, or its approval is gone.
func (s *Approvals) DropEntry(ctx context.Context, member string) error {
	_, err := s.c.Do(ctx, "ZREM", s.keys.Outbox(), member)
	return err
}

// GiveUp takes an entry out of the outbox, with a webhook_failed event in
// the audit trail.
func (s *Approvals) GiveUp(ctx context.Context, e approval.Entry) error {
	detail := jsondoc.Canonical(map[string]any{"delivery_id": e.Delivery, "event": e.Event, "error": "gave up after 24 hours"})
	if _, err := approvalRecord.Run(ctx, s.c, []string{s.keys.Audit(e.Approval), s.keys.Outbox()},
		storekit.Args{"member", e.Member, "outcome", "giveup", "retry_ms", 0, "attempts", 1,
			"type.1", "webhook_failed", "at.1", jsondoc.FormatTime(s.now()), "detail.1", string(detail)}...); err != nil {
		return fmt.Errorf("give up on webhook of approval %s: %w", e.Approval, err)
	}
	return nil
}

const approvalCursorKind = "a1"

// List returns approvals newest first, of one workflow or of all, optionally
// of one status (as they read now).
func (s *Approvals) List(ctx context.Context, aq approval.ListQuery) (approval.Page, error) {
	now := s.now()
	q := storekit.ListQuery{Index: s.keys.ApprovalIndex(), KeyPrefix: s.keys.ApprovalKeyPrefix(), Limit: aq.Limit,
		Status: string(aq.Status), Expiring: string(approval.Pending), Now: jsondoc.FormatTime(now)}
	if aq.Workflow != nil {
		q.Index = s.keys.WorkflowApprovals(*aq.Workflow)
	}
	if aq.Cursor != "" {
		after, err := storekit.ParseCursor(approvalCursorKind, aq.Cursor, func(m string) error { _, err := keys.ParseApprovalID(m); return err })
		if err != nil {
			return approval.Page{}, err
		}
		q.After = &after
	}
	docs, next, err := storekit.List(ctx, s.c, q)
	if err != nil {
		return approval.Page{}, fmt.Errorf("list approvals: %w", err)
	}
	page := approval.Page{Items: make([]approval.Approval, 0, len(docs))}
	for _, d := range docs {
		a, err := decodeApproval(d)
		if err != nil {
			return approval.Page{}, err
		}
		page.Items = append(page.Items, a.AsOf(now))
	}
	if next != nil {
		c := next.Encode(approvalCursorKind)
		page.NextCursor = &c
	}
	return page, nil
}

// Audit reads an approval's audit trail. It is not found only when neither
// the trail nor the approval exists.
func (s *Approvals) Audit(ctx context.Context, id keys.ApprovalID) (approval.Audit, error) {
	events, err := storekit.Trail[approval.AuditEvent](ctx, s.c, s.keys.Audit(id), s.keys.Approval(id), "approval "+id.String())
	if err != nil {
		return approval.Audit{}, err
	}
	return approval.Audit{ApprovalID: id.String(), Events: events}, nil
}

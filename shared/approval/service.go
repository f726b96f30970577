package approval

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/identity"
	"github.com/ai-rails/state-service/shared/jsondoc"
	"github.com/ai-rails/state-service/shared/keys"
)

// Store persists approvals, each call one atomic step; redisstore's
// Approvals is the one in use. It only persists: the Service decides what
// to deliver, and its Sender delivers it.
type Store interface {
	// Create stores a new approval for a workflow that exists. With
	// in.Notify, it also queues the approval.requested event for the
	// notification endpoint in the same step, and returns the Entry for
	// delivery; a replayed request (Idempotency-Key) returns none.
	Create(ctx context.Context, in CreateRequest) (Approval, *Entry, error)
	// Get reads one approval, as it reads now.
	Get(ctx context.Context, id keys.ApprovalID) (Approval, error)
	// Decide records the first decision. A decision on an approval with a
	// callback also queues its webhook in the outbox, in the same step, and
	// returns the Entry for delivery; a replayed request (Idempotency-Key)
	// returns none, as the first one delivered or queued it.
	Decide(ctx context.Context, id keys.ApprovalID, in DecideRequest, allowSelf bool) (Approval, *Entry, error)
	// Vote records the vote of the approver at index, on an approval that
	// lists approvers, once; the vote that makes the outcome final decides
	// the approval and, with a callback, queues its webhook in the same
	// step, returning the Entry for delivery.
	Vote(ctx context.Context, id keys.ApprovalID, index int, in VoteRequest) (Approval, *Entry, error)
	// List returns approvals newest first, as they read now.
	List(ctx context.Context, q ListQuery) (Page, error)
	// Audit reads an approval's audit trail.
	Audit(ctx context.Context, id keys.ApprovalID) (Audit, error)
	// RecordDelivery records a webhook's attempts in the audit trail, and
	// takes the Entry out of the outbox when one was delivered, or moves its
	// next try to retryAt. It reports whether it was delivered.
	RecordDelivery(ctx context.Context, e Entry, attempts []Attempt, retryAt time.Time) (bool, error)
	// ExpireDue applies the on_timeout outcome of up to limit pending
	// approvals that are due, and queues their webhooks (approval.expired,
	// or approval.decided for a timeout decision). It returns how many it
	// ran out, and whether more may be due.
	ExpireDue(ctx context.Context, limit int) (int, bool, error)
	// QueueReminders queues up to limit reminders that are due, each once:
	// approval.reminder to the callback, and with notify, to the
	// notification endpoint. It returns how many it queued, and whether
	// more may be due.
	QueueReminders(ctx context.Context, limit int, notify bool) (int, bool, error)
	// DueEntries reads up to limit outbox entries whose next try is due.
	DueEntries(ctx context.Context, limit int) ([]string, error)
	// DropEntry takes an entry out of the outbox without a trace.
	DropEntry(ctx context.Context, member string) error
	// GiveUp takes an entry out of the outbox, with a webhook_failed event
	// in the audit trail.
	GiveUp(ctx context.Context, e Entry) error
}

// Sender delivers one webhook, retrying within its budget, and reports each
// attempt; wiring makes one of a webhook.Deliverer.
type Sender interface {
	Deliver(ctx context.Context, d Delivery) []Attempt
}

// Delivery is one webhook to send: its delivery id (the same across
// retries), its event, where, and the signed body.
type Delivery struct {
	ID      string
	Event   string
	URL     string
	Body    []byte
	Subject string // the approval id
}

// Attempt is the outcome of one try to deliver.
type Attempt struct {
	At         time.Time
	StatusCode int    // 0 when no answer came
	Error      string // why it failed, if it did
	Delivered  bool
}

// CallbackChecker checks a callback URL before it is stored;
// webhook.Guard is one.
type CallbackChecker interface {
	CheckURL(ctx context.Context, raw string) (*url.URL, error)
}

// ListQuery is one page of approvals to read.
type ListQuery struct {
	// Workflow keeps only one workflow's approvals; nil keeps all.
	Workflow *keys.WorkflowID
	// Status keeps only approvals of this status (as they read now).
	Status Status
	Limit  int
	// Cursor is the opaque next_cursor of the page before; "" for the first.
	Cursor string
}

// Page is one page of approvals.
type Page struct {
	Items      []Approval `json:"items"`
	NextCursor *string    `json:"next_cursor"`
}

// Entry is an outbox entry: "delivery id|approval id|event|first attempt
// ms", and "|notify" for one that goes to the notification endpoint rather
// than the approval's callback.
type Entry struct {
	Delivery, Event string
	Approval        keys.ApprovalID
	// First is when the webhook was first queued, in Unix milliseconds.
	First int64
	// Notify is true for an entry for the notification endpoint.
	Notify bool
	// Member is the entry as the outbox holds it.
	Member string
}

// notifyTarget marks an outbox entry for the notification endpoint.
const notifyTarget = "notify"

// FormatEntry is the outbox member of e (ParseEntry reads it back).
func FormatEntry(e Entry) string {
	m := e.Delivery + "|" + e.Approval.String() + "|" + e.Event + "|" + strconv.FormatInt(e.First, 10)
	if e.Notify {
		m += "|" + notifyTarget
	}
	return m
}

// ParseEntry reads an outbox entry.
func ParseEntry(member string) (Entry, error) {
	p := strings.Split(member, "|")
	if len(p) != 4 && (len(p) != 5 || p[4] != notifyTarget) {
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
	return Entry{Delivery: p[0], Approval: id, Event: p[2], First: first, Notify: len(p) == 5, Member: member}, nil
}

// RetryDelay is how long an undelivered webhook waits in the outbox before
// the sweeper tries it again.
const RetryDelay = time.Minute

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

// Options configure a Service.
type Options struct {
	// Sender delivers webhooks; nil leaves them in the outbox.
	Sender Sender
	// Callbacks checks callback URLs; nil refuses every callback URL.
	Callbacks CallbackChecker
	// AllowSelfApproval lets a requester decide their own approval.
	AllowSelfApproval bool
	// AllowApproveOnTimeout allows on_timeout "approved"
	// (ALLOW_APPROVE_ON_TIMEOUT): off, an agent's request cannot pass by
	// silence.
	AllowApproveOnTimeout bool
	// NotifyURL is the operator's notification endpoint
	// (APPROVAL_NOTIFY_URL), which gets approval.requested and reminders
	// with the approvers' links; "" sends none.
	NotifyURL string
	// LinkSecret keys the approvers' link tokens; PublicBaseURL is where
	// their links point ({PublicBaseURL}/approve/{token}).
	LinkSecret    []byte
	PublicBaseURL string
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Service is the approvals: it validates, persists through the Store,
// decides by the rules, then asks the Sender to deliver what a decision
// queued, and has the Store record how that went.
type Service struct {
	Store
	o Options
}

// NewService returns a Service over the store.
func NewService(st Store, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Service{Store: st, o: o}
}

// ParseCreate validates a create body, checking its callback URL. An
// approval with approvers needs the link secret, which their links are
// made with.
func (s *Service) ParseCreate(ctx context.Context, b CreateBody) (CreateRequest, error) {
	in, err := ParseCreate(ctx, b, s.o.Callbacks)
	if err == nil && len(in.Approvers) > 0 && len(s.o.LinkSecret) == 0 {
		return CreateRequest{}, apperr.Invalid(apperr.Field("approvers", "cannot be given: this service has no APPROVAL_LINK_SECRET to make their links with"))
	}
	if err == nil && in.OnTimeout == TimeoutApproved && !s.o.AllowApproveOnTimeout {
		return CreateRequest{}, apperr.Invalid(apperr.Field("on_timeout", "cannot be approved: the operator has not set ALLOW_APPROVE_ON_TIMEOUT=true"))
	}
	in.Notify = s.o.NotifyURL != "" && len(in.Approvers) > 0
	return in, err
}

// Notifies reports whether approvals with approvers are announced to a
// notification endpoint (APPROVAL_NOTIFY_URL).
func (s *Service) Notifies() bool { return s.o.NotifyURL != "" }

// Create stores a new approval, then, for one announced to the
// notification endpoint, delivers its approval.requested event within the
// sender's budget, as Decide does.
func (s *Service) Create(ctx context.Context, in CreateRequest) (Approval, error) {
	return s.settle(ctx, func() (Approval, *Entry, error) { return s.Store.Create(ctx, in) })
}

// QueueReminders queues the reminders that are due (see Store), to the
// notification endpoint too when there is one.
func (s *Service) QueueReminders(ctx context.Context, limit int) (int, bool, error) {
	return s.Store.QueueReminders(ctx, limit, s.o.NotifyURL != "")
}

// Decide records the first decision, then delivers its webhook, if it has
// one, within the sender's budget; what is not delivered waits in the
// outbox for the sweeper. A replayed request (Idempotency-Key) sends
// nothing again: the store returns no Entry for it.
func (s *Service) Decide(ctx context.Context, id keys.ApprovalID, in DecideRequest) (Approval, error) {
	return s.settle(ctx, func() (Approval, *Entry, error) { return s.Store.Decide(ctx, id, in, s.o.AllowSelfApproval) })
}

// settle runs a decision, then delivers the webhook it queued, if any.
func (s *Service) settle(ctx context.Context, decide func() (Approval, *Entry, error)) (Approval, error) {
	a, e, err := decide()
	if err != nil || e == nil {
		return a, err
	}
	if _, err := s.Deliver(context.WithoutCancel(ctx), *e, a, s.o.Now().Add(RetryDelay)); err != nil {
		s.o.Logger.Error("webhook delivery not recorded; the sweeper will retry it", "approval_id", a.ApprovalID, "error", err)
	}
	return a, nil
}

// VoteRequest is a validated vote.
type VoteRequest struct {
	Decision string
	Comment  *string
}

// Vote records an approver's vote, and when it makes the outcome final,
// delivers the decision's webhook as Decide does.
func (s *Service) Vote(ctx context.Context, id keys.ApprovalID, index int, in VoteRequest) (Approval, error) {
	return s.settle(ctx, func() (Approval, *Entry, error) { return s.Store.Vote(ctx, id, index, in) })
}

// Deliver sends an outbox Entry's webhook for the approval and records the
// attempts, taking the Entry out of the outbox or moving its next try to
// retryAt. It reports whether it was delivered.
func (s *Service) Deliver(ctx context.Context, e Entry, a Approval, retryAt time.Time) (bool, error) {
	url, p := s.target(e, a)
	if s.o.Sender == nil || url == "" {
		return false, nil
	}
	attempts := s.o.Sender.Deliver(ctx, Delivery{ID: e.Delivery, Event: e.Event, URL: url, Body: jsondoc.Canonical(p), Subject: a.ApprovalID})
	return s.RecordDelivery(ctx, e, attempts, retryAt)
}

// target is where an outbox Entry goes and what it says: the callback gets
// the approval and the event; the notification endpoint gets them with the
// links of the approvers who have not voted, which no other answer or
// webhook carries.
func (s *Service) target(e Entry, a Approval) (string, Payload) {
	p := Payload{Approval: a, Event: e.Event}
	if e.Notify {
		p.Links = s.Links(a)
		for _, v := range a.Votes {
			delete(p.Links, v.Approver)
		}
		return s.o.NotifyURL, p
	}
	if a.CallbackURL == nil {
		return "", p
	}
	return *a.CallbackURL, p
}

// DeliverDue tries up to limit outbox entries that are due, with backoff,
// and gives up on those first tried more than OutboxGiveUp ago.
func (s *Service) DeliverDue(ctx context.Context, limit int) (DeliveryReport, error) {
	var rep DeliveryReport
	now := s.o.Now()
	members, err := s.DueEntries(ctx, limit)
	if err != nil {
		return rep, err
	}
	for _, m := range members {
		e, err := ParseEntry(m)
		if err != nil {
			_ = s.DropEntry(ctx, m)
			rep.Dropped++
			continue
		}
		age := now.Sub(time.UnixMilli(e.First))
		if age > OutboxGiveUp {
			if err := s.GiveUp(ctx, e); err != nil {
				return rep, err
			}
			rep.GaveUp++
			continue
		}
		a, err := s.Get(ctx, e.Approval)
		if apperr.KindOf(err) == apperr.NotFound {
			_ = s.DropEntry(ctx, m)
			rep.Dropped++
			continue
		}
		if err != nil {
			return rep, err
		}
		ok, err := s.Deliver(ctx, e, a, now.Add(Backoff(age)))
		if err != nil {
			return rep, err
		}
		if ok {
			rep.Delivered++
		} else {
			rep.Failed++
		}
	}
	return rep, nil
}

// Links returns each approver's link to the approval: the URL only they
// got, which lets them vote once.
func (s *Service) Links(a Approval) map[string]string {
	if len(a.Approvers) == 0 {
		return nil
	}
	id, err := keys.ParseApprovalID(a.ApprovalID)
	expires, perr := time.Parse(time.RFC3339Nano, a.ExpiresAt)
	if err != nil || perr != nil {
		return nil
	}
	links := make(map[string]string, len(a.Approvers))
	for i, name := range a.Approvers {
		links[name] = s.o.PublicBaseURL + "/approve/" + LinkToken(s.o.LinkSecret, id, i, identity.Canonical(name), expires)
	}
	return links
}

// OpenLink reads the approval a link token opens, as it reads now, and the
// approver's index. A token that is malformed, tampered with, made with
// another secret, or for an approval that is gone, is Forbidden: the
// answer says nothing of which.
func (s *Service) OpenLink(ctx context.Context, token string) (Approval, int, error) {
	refused := apperr.New(apperr.Forbidden, "this link is not valid")
	l, err := ParseLinkToken(token)
	if err != nil {
		return Approval{}, 0, refused
	}
	a, err := s.Get(ctx, l.Approval)
	if apperr.KindOf(err) == apperr.NotFound {
		return Approval{}, 0, refused
	}
	if err != nil {
		return Approval{}, 0, err
	}
	expires, err := time.Parse(time.RFC3339Nano, a.ExpiresAt)
	if err != nil || l.Index >= len(a.Approvers) || len(s.o.LinkSecret) == 0 ||
		!l.Verify(s.o.LinkSecret, identity.Canonical(a.Approvers[l.Index]), expires) {
		return Approval{}, 0, refused
	}
	return a, l.Index, nil
}

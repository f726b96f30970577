package approval

import (
	"context"
	"log/slog"
	"time"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/idempotency"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/storekit"
	"github.com/ai-rails/state-service/shared/webhook"
)

// Sender delivers one webhook, retrying within its budget, and reports each
// attempt; webhook.Deliverer is one.
type Sender interface {
	Deliver(ctx context.Context, d webhook.Delivery) []webhook.Attempt
}

// Service is the approvals: it decides through the Store, which persists,
// then asks the Sender to deliver what the decision queued, and has the
// Store record how that went.
type Service struct {
	*Store
	sender Sender
	log    *slog.Logger
}

// NewService returns a Service. A nil sender leaves webhooks in the outbox.
func NewService(st *Store, sender Sender, log *slog.Logger) *Service {
	if d, ok := sender.(*webhook.Deliverer); ok && d == nil {
		sender = nil
	}
	if log == nil {
		log = slog.Default()
	}
	return &Service{Store: st, sender: sender, log: log}
}

// Decide records the first decision, then delivers its webhook, if it has
// one, within the sender's budget; what is not delivered waits in the
// outbox for the sweeper. A replayed request (Idempotency-Key) sends
// nothing again.
func (s *Service) Decide(ctx context.Context, id keys.ApprovalID, in DecideRequest, allowSelf bool) (Approval, error) {
	a, e, err := s.Store.Decide(ctx, id, in, allowSelf)
	if err != nil || e == nil || idempotency.Replayed(ctx) {
		return a, err
	}
	if _, err := s.Deliver(context.WithoutCancel(ctx), *e, a, s.now().Add(RetryDelay)); err != nil {
		s.log.Error("webhook delivery not recorded; the sweeper will retry it", "approval_id", a.ApprovalID, "error", err)
	}
	return a, nil
}

// Deliver sends an outbox Entry's webhook for the approval and records the
// attempts, taking the Entry out of the outbox or moving its next try to
// retryAt. It reports whether it was delivered.
func (s *Service) Deliver(ctx context.Context, e Entry, a Approval, retryAt time.Time) (bool, error) {
	if s.sender == nil || a.CallbackURL == nil {
		return false, nil
	}
	body := storekit.Canonical(Payload{Approval: a, Event: e.event})
	attempts := s.sender.Deliver(ctx, webhook.Delivery{ID: e.delivery, Event: e.event, URL: *a.CallbackURL, Body: body})
	return s.RecordDelivery(ctx, e, attempts, retryAt)
}

// DeliverDue tries up to limit outbox entries that are due, with backoff,
// and gives up on those first tried more than OutboxGiveUp ago.
func (s *Service) DeliverDue(ctx context.Context, limit int) (DeliveryReport, error) {
	var rep DeliveryReport
	now := s.now()
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
		age := now.Sub(time.UnixMilli(e.first))
		if age > OutboxGiveUp {
			if err := s.GiveUp(ctx, e); err != nil {
				return rep, err
			}
			rep.GaveUp++
			continue
		}
		a, err := s.Get(ctx, e.approval)
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

package approval

import (
	"context"
	"time"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/keys"
)

// The bounds of a wait (GET /api/approval/{id}?wait=N, the approval_wait
// tool): at most 25 s, so that a wait and its reads fit under API
// Gateway's 29 s limit and MCP clients' usual 60 s tool timeout.
const (
	MinWait     = 1 * time.Second
	MaxWait     = 25 * time.Second
	DefaultWait = 20 * time.Second
	// PollAfter is when a waiter whose wait ran out may wait again: at
	// once, in practice; it is the Retry-After and poll_after_ms answered.
	PollAfter = time.Second
)

// CheckWait reads a wait of seconds (?wait, approval_wait's
// timeout_seconds), adding to errs under field one out of MinWait..MaxWait.
func CheckWait(errs *apperr.Collector, field string, seconds int) time.Duration {
	d := time.Duration(seconds) * time.Second
	if d < MinWait || d > MaxWait {
		errs.Add(field, "must be an integer from %d to %d (seconds)", int(MinWait/time.Second), int(MaxWait/time.Second))
	}
	return d
}

// The backoff of a wait's reads. Upstash's REST API serves no blocking
// command (its REST compatibility table: no BLPOP, BRPOP, BRPOPLPUSH,
// BZPOP*, or blocking XREAD/XREADGROUP), so a waiter reads the approval
// again and again: first after FirstPoll, each wait half as long again as
// the one before, up to MaxPoll. That is 3 reads in the first second of
// waiting and 0.5 a second from the sixth second on; a decision is seen
// at most MaxPoll after it is made.
const (
	FirstPoll = 250 * time.Millisecond
	MaxPoll   = 2 * time.Second
)

// NextPoll is the wait before the read after one that waited d.
func NextPoll(d time.Duration) time.Duration {
	if d <= 0 {
		return FirstPoll
	}
	return min(d*3/2, MaxPoll)
}

// Wait reads the approval until it is final, or until d has passed,
// reading with backoff (NextPoll), and one read as it runs out if that
// falls within the wait. It answers the approval as it last read, and
// whether it is final. An unknown id is an error at once; so is a store
// error. A cancelled ctx ends the wait with its error.
func (s *Service) Wait(ctx context.Context, id keys.ApprovalID, d time.Duration) (Approval, bool, error) {
	deadline := time.Now().Add(d)
	var poll time.Duration
	for {
		a, err := s.Get(ctx, id)
		if err != nil || a.Final() {
			return a, a.Final(), err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return a, false, nil
		}
		poll = NextPoll(poll)
		sleep := min(poll, left)
		// Read again just after the approval runs out, when that comes
		// first: its on_timeout outcome is final at once.
		if exp, err := time.Parse(time.RFC3339Nano, a.ExpiresAt); err == nil {
			if untilExp := exp.Sub(s.o.Now()) + time.Millisecond; untilExp > 0 && untilExp < sleep {
				sleep = untilExp
			}
		}
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return a, false, ctx.Err()
		case <-t.C:
		}
	}
}

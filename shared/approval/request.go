package approval

import (
	"context"
	"slices"
	"unicode/utf8"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/identity"
	"github.com/ai-rails/state-service/shared/keys"
)

// CreateBody is the body of POST /api/approval.
type CreateBody struct {
	WorkflowID       *string  `json:"workflow_id"`
	RequestType      *string  `json:"request_type"`
	Content          *string  `json:"content"`
	Requester        *string  `json:"requester"`
	ExpiresInSeconds *int     `json:"expires_in_seconds"`
	CallbackURL      *string  `json:"callback_url"`
	Approvers        []string `json:"approvers"`
	MinApprovals     *int     `json:"min_approvals"`
	// RemindAfterSeconds are up to MaxReminders offsets from creation,
	// each before the expiry; OnTimeout is expired, rejected or approved.
	RemindAfterSeconds []int   `json:"remind_after_seconds"`
	OnTimeout          *string `json:"on_timeout"`
}

// CreateRequest is a validated create. Its canonical JSON is the request's
// fingerprint for Idempotency-Key.
type CreateRequest struct {
	WorkflowID       keys.WorkflowID `json:"-"`
	Workflow         string          `json:"workflow_id"`
	RequestType      string          `json:"request_type"`
	Content          string          `json:"content"`
	Requester        string          `json:"requester"`
	ExpiresInSeconds int             `json:"expires_in_seconds"`
	CallbackURL      *string         `json:"callback_url"`
	// Approvers, when given, decide through their links, min_approvals of
	// them (see Outcome).
	Approvers    []string `json:"approvers,omitzero"`
	MinApprovals int      `json:"min_approvals,omitzero"`
	// RemindAfterSeconds are sorted; OnTimeout is "" for the default,
	// expired, so that a request that names the default has the same
	// fingerprint as one that does not.
	RemindAfterSeconds []int     `json:"remind_after_seconds,omitzero"`
	OnTimeout          OnTimeout `json:"on_timeout,omitzero"`
	// Notify queues the approval.requested event for the operator's
	// notification endpoint; the Service sets it.
	Notify bool `json:"-"`
}

func textField(errs *apperr.Collector, v *string, field string, min, max int) string {
	if v == nil {
		errs.Add(field, "is required")
		return ""
	}
	if n := utf8.RuneCountInString(*v); n < min || n > max {
		errs.Add(field, "must be %d to %d characters", min, max)
	}
	return *v
}

// identityField reads a required identity (see package identity).
func identityField(errs *apperr.Collector, v *string, field string, max int) string {
	if v == nil {
		errs.Add(field, "is required")
		return ""
	}
	if why := identity.Check(*v, max); why != "" {
		errs.Add(field, "%s", why)
	}
	return *v
}

// ParseCreate validates a create body. The callback URL is checked by the
// guard, which resolves its host; without a guard, every callback URL is
// refused.
func ParseCreate(ctx context.Context, b CreateBody, guard CallbackChecker) (CreateRequest, error) {
	var errs apperr.Collector
	var r CreateRequest
	if b.WorkflowID == nil {
		errs.Add("workflow_id", "is required")
	} else if id, err := keys.ParseWorkflowID(*b.WorkflowID); err != nil {
		errs.Add("workflow_id", "must match %s", keys.WorkflowIDPattern)
	} else {
		r.WorkflowID, r.Workflow = id, id.String()
	}
	if b.RequestType == nil || !requestTypes[*b.RequestType] {
		errs.Add("request_type", "must be one of test, code, deploy")
	} else {
		r.RequestType = *b.RequestType
	}
	r.Content = textField(&errs, b.Content, "content", 1, MaxContent)
	r.Requester = identityField(&errs, b.Requester, "requester", MaxRequester)
	r.ExpiresInSeconds = DefaultExpiresIn
	if b.ExpiresInSeconds != nil {
		if *b.ExpiresInSeconds < MinExpiresIn || *b.ExpiresInSeconds > MaxExpiresIn {
			errs.Add("expires_in_seconds", "must be an integer from %d to %d", MinExpiresIn, MaxExpiresIn)
		}
		r.ExpiresInSeconds = *b.ExpiresInSeconds
	}
	r.RemindAfterSeconds = checkReminders(&errs, b.RemindAfterSeconds, r.ExpiresInSeconds)
	if b.OnTimeout != nil {
		switch t := OnTimeout(*b.OnTimeout); t {
		case TimeoutExpired:
		case TimeoutRejected, TimeoutApproved:
			r.OnTimeout = t
		default:
			errs.Add("on_timeout", "must be one of expired, rejected, approved")
		}
	}
	if b.Approvers != nil {
		r.Approvers, r.MinApprovals = checkApprovers(&errs, r.Requester, b.Approvers, b.MinApprovals)
	} else if b.MinApprovals != nil {
		errs.Add("min_approvals", "is given with approvers only")
	}
	if err := errs.Err(); err != nil {
		return CreateRequest{}, err
	}
	if b.CallbackURL != nil {
		if guard == nil {
			return CreateRequest{}, apperr.Invalid(apperr.Field("callback_url", "is refused: this service sends no webhooks"))
		}
		u, err := guard.CheckURL(ctx, *b.CallbackURL)
		if err != nil {
			return CreateRequest{}, apperr.Invalid(apperr.Field("callback_url", "is refused: %v", err))
		}
		s := u.String()
		r.CallbackURL = &s
	}
	return r, nil
}

// checkReminders validates remind_after_seconds, adding what is wrong to
// errs: at most MaxReminders distinct offsets, each from 1 second to
// before the expiry. It returns them sorted.
func checkReminders(errs *apperr.Collector, offsets []int, expiresIn int) []int {
	if offsets == nil {
		return nil
	}
	if len(offsets) == 0 || len(offsets) > MaxReminders {
		errs.Add("remind_after_seconds", "must list 1 to %d offsets", MaxReminders)
		return nil
	}
	out := slices.Clone(offsets)
	slices.Sort(out)
	for i, o := range out {
		if o < 1 || o >= expiresIn {
			errs.Add("remind_after_seconds", "must be offsets from 1 to %d seconds: each before the expiry", expiresIn-1)
			return nil
		}
		if i > 0 && out[i-1] == o {
			errs.Add("remind_after_seconds", "lists %d twice", o)
			return nil
		}
	}
	return out
}

// DecideBody is the body of POST /api/approval/{approval_id}/decision.
type DecideBody struct {
	Decision *string `json:"decision"`
	Approver *string `json:"approver"`
	Comment  *string `json:"comment"`
}

// DecideRequest is a validated decision.
type DecideRequest struct {
	Decision string
	Approver string
	Comment  *string
}

// ParseDecide validates a decision body.
func ParseDecide(b DecideBody) (DecideRequest, error) {
	var errs apperr.Collector
	var r DecideRequest
	if b.Decision == nil || (*b.Decision != string(Approved) && *b.Decision != string(Rejected)) {
		errs.Add("decision", "must be approved or rejected")
	} else {
		r.Decision = *b.Decision
	}
	r.Approver = identityField(&errs, b.Approver, "approver", MaxApprover)
	if b.Comment != nil {
		if utf8.RuneCountInString(*b.Comment) > MaxComment {
			errs.Add("comment", "must be at most %d characters", MaxComment)
		}
		r.Comment = b.Comment
	}
	return r, errs.Err()
}

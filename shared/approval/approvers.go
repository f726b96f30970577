package approval

import (
	"strconv"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/identity"
)

// Vote is one approver's vote on an approval that lists approvers.
type Vote struct {
	Approver string  `json:"approver"`
	Decision string  `json:"decision"`
	Comment  *string `json:"comment,omitempty"`
	VotedAt  string  `json:"voted_at"`
}

// checkApprovers validates the approvers of a create and its
// min_approvals, adding what is wrong to errs: 1 to MaxApprovers
// identities, unique once canonical, none of them the requester, and
// min_approvals from 1 to their number (default 1). It returns the
// approvers and min_approvals to store.
func checkApprovers(errs *apperr.Collector, requester string, approvers []string, min *int) ([]string, int) {
	if len(approvers) == 0 || len(approvers) > MaxApprovers {
		errs.Add("approvers", "must list 1 to %d approvers", MaxApprovers)
		return nil, 0
	}
	seen := map[string]bool{}
	self := identity.Canonical(requester)
	for i, a := range approvers {
		field := "approvers[" + strconv.Itoa(i) + "]"
		if why := identity.Check(a, MaxApprover); why != "" {
			errs.Add(field, "%s", why)
			continue
		}
		key := identity.Canonical(a)
		switch {
		case seen[key]:
			errs.Add(field, "is listed twice")
		case key == self:
			errs.Add(field, "is the requester, who cannot approve their own request")
		}
		seen[key] = true
	}
	n := 1
	if min != nil {
		n = *min
		if n < 1 || n > len(approvers) {
			errs.Add("min_approvals", "must be from 1 to the number of approvers (%d)", len(approvers))
		}
	}
	return approvers, n
}

package approval

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ai-rails/state-service/shared/apperr"
)

func TestCheckApprovers(t *testing.T) {
	two := 2
	zero := 0
	many := make([]string, MaxApprovers+1)
	for i := range many {
		many[i] = "approver " + string(rune('a'+i))
	}
	for name, c := range map[string]struct {
		approvers []string
		min       *int
		field     string
		want      int
	}{
		"one, default min":      {[]string{"alice"}, nil, "", 1},
		"two of three":          {[]string{"alice", "bob", "carol"}, &two, "", 2},
		"none":                  {[]string{}, nil, "approvers", 0},
		"too many":              {many, nil, "approvers", 0},
		"twice, once canonical": {[]string{"Alice", "ALICE"}, nil, "approvers[1]", 0},
		"the requester":         {[]string{"bob", "CI-Bot"}, nil, "approvers[1]", 0},
		"not an identity":       {[]string{" alice"}, nil, "approvers[0]", 0},
		"min above the count":   {[]string{"alice"}, &two, "min_approvals", 0},
		"min zero":              {[]string{"alice"}, &zero, "min_approvals", 0},
	} {
		var errs apperr.Collector
		_, n := checkApprovers(&errs, "ci-bot", c.approvers, c.min)
		if c.field == "" {
			assert.NoError(t, errs.Err(), name)
			assert.Equal(t, c.want, n, name)
			continue
		}
		assert.ErrorContains(t, errs.Err(), c.field, name)
	}
}

package keys

import (
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// The id patterns of API.md, as the validation errors state them.
const (
	WorkflowIDPattern  = `^[A-Z]{3}-[0-9]{6}$`
	ApprovalIDPattern  = `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`
	TestIDPattern      = `^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`
	ResourceIDPattern  = `^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`
	MetricNamePattern  = `^[a-z][a-z0-9_]{0,63}$`
	IdempotencyKeyRule = "1 to 128 printable ASCII characters"
)

// ErrInvalidID is wrapped by every id parsing error.
var ErrInvalidID = errors.New("invalid id")

// WorkflowID is a validated workflow id. The zero value is not valid; get one
// from ParseWorkflowID.
type WorkflowID struct{ v string }

// ApprovalID is a validated approval id: a lowercase UUID version 4.
type ApprovalID struct{ v string }

// TestID is a validated test result id.
type TestID struct{ v string }

// ResourceID is a validated lock resource id.
type ResourceID struct{ v string }

// MetricName is a validated metric name.
type MetricName struct{ v string }

// IdempotencyKey is a validated Idempotency-Key header value.
type IdempotencyKey struct{ v string }

func (id WorkflowID) String() string { return id.v }
func (id ApprovalID) String() string { return id.v }
func (id TestID) String() string     { return id.v }
func (id ResourceID) String() string { return id.v }

func invalid(what, s, rule string) error {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return fmt.Errorf("%w: %s %q must match %s", ErrInvalidID, what, s, rule)
}

// ParseWorkflowID validates s against ^[A-Z]{3}-[0-9]{6}$.
func ParseWorkflowID(s string) (WorkflowID, error) {
	ok := len(s) == 10 && s[3] == '-'
	for i := 0; ok && i < 10; i++ {
		switch {
		case i < 3:
			ok = s[i] >= 'A' && s[i] <= 'Z'
		case i > 3:
			ok = isDigit(s[i])
		}
	}
	if !ok {
		return WorkflowID{}, invalid("workflow_id", s, WorkflowIDPattern)
	}
	return WorkflowID{s}, nil
}

// ParseApprovalID validates s as a lowercase UUID version 4.
func ParseApprovalID(s string) (ApprovalID, error) {
	ok := len(s) == 36
	for i := 0; ok && i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			ok = c == '-'
		case 14:
			ok = c == '4'
		case 19:
			ok = c == '8' || c == '9' || c == 'a' || c == 'b'
		default:
			ok = isDigit(c) || (c >= 'a' && c <= 'f')
		}
	}
	if !ok {
		return ApprovalID{}, invalid("approval_id", s, "a lowercase UUID version 4")
	}
	return ApprovalID{s}, nil
}

// NewApprovalID mints a random approval id.
func NewApprovalID() ApprovalID { return ApprovalID{uuid.NewString()} }

// ParseTestID validates s against ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$.
func ParseTestID(s string) (TestID, error) {
	if !matchID(s, 64, "_.-") {
		return TestID{}, invalid("test_id", s, TestIDPattern)
	}
	return TestID{s}, nil
}

// NewTestID mints a random test id, a UUID version 4.
func NewTestID() TestID { return TestID{uuid.NewString()} }

// ParseResourceID validates s against ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$.
func ParseResourceID(s string) (ResourceID, error) {
	if !matchID(s, 128, "_.:-") {
		return ResourceID{}, invalid("resource_id", s, ResourceIDPattern)
	}
	return ResourceID{s}, nil
}

// ParseMetricName validates s against ^[a-z][a-z0-9_]{0,63}$.
func ParseMetricName(s string) (MetricName, error) {
	ok := len(s) >= 1 && len(s) <= 64 && s[0] >= 'a' && s[0] <= 'z'
	for i := 1; ok && i < len(s); i++ {
		c := s[i]
		ok = (c >= 'a' && c <= 'z') || isDigit(c) || c == '_'
	}
	if !ok {
		return MetricName{}, invalid("metric name", s, MetricNamePattern)
	}
	return MetricName{s}, nil
}

// ParseIdempotencyKey validates an Idempotency-Key: 1 to 128 printable ASCII
// characters.
func ParseIdempotencyKey(s string) (IdempotencyKey, error) {
	ok := len(s) >= 1 && len(s) <= 128
	for i := 0; ok && i < len(s); i++ {
		ok = s[i] >= 0x20 && s[i] < 0x7f
	}
	if !ok {
		return IdempotencyKey{}, fmt.Errorf("%w: Idempotency-Key must be %s", ErrInvalidID, IdempotencyKeyRule)
	}
	return IdempotencyKey{s}, nil
}

// matchID checks ^[A-Za-z0-9][A-Za-z0-9<extra>]{0,max-1}$.
func matchID(s string, max int, extra string) bool {
	if len(s) < 1 || len(s) > max || !isAlnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && !isOneOf(c, extra) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isOneOf(c byte, set string) bool {
	for i := 0; i < len(set); i++ {
		if set[i] == c {
			return true
		}
	}
	return false
}

package approval

// MaxApprovers bounds the approvers of one approval.
const MaxApprovers = 20

// Outcome is the status that votes make of an approval of n approvers
// that needs min approvals: approved once min have approved; rejected at
// the first rejection (a veto), or as soon as enough approvals can no
// longer come; pending until then.
func Outcome(n, min, approvals, rejections int) Status {
	switch {
	case rejections > 0 || approvals+(n-approvals-rejections) < min:
		return Rejected
	case approvals >= min:
		return Approved
	}
	return Pending
}

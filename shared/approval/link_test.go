package approval

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/ai-rails/state-service/shared/keys"
)

var (
	linkSecret  = []byte("link-secret-for-tests")
	linkExpires = time.Date(2026, 11, 26, 11, 0, 0, 0, time.UTC)
)

// A token opens its own approval, for its own approver, until the secret,
// the approver or the expiry change; anything else is refused.
func TestLinkTokens(t *testing.T) {
	id := keys.NewApprovalID()
	tok := LinkToken(linkSecret, id, 3, `"alice"`, linkExpires)
	assert.Len(t, tok, LinkTokenLength)
	assert.NotContains(t, tok, "=")
	l, err := ParseLinkToken(tok)
	require.NoError(t, err)
	assert.Equal(t, id, l.Approval)
	assert.Equal(t, 3, l.Index)
	assert.True(t, l.Verify(linkSecret, `"alice"`, linkExpires))
	assert.False(t, l.Verify([]byte("rotated"), `"alice"`, linkExpires), "another secret")
	assert.False(t, l.Verify(linkSecret, `"bob"`, linkExpires), "another approver")
	assert.False(t, l.Verify(linkSecret, `"alice"`, linkExpires.Add(time.Nanosecond)), "another expiry")

	// Another approval's id in the same token fails its MAC.
	other := keys.NewApprovalID()
	swapped := LinkToken(linkSecret, other, 3, `"alice"`, linkExpires)[:22] + tok[22:]
	if l2, err := ParseLinkToken(swapped); err == nil {
		assert.False(t, l2.Verify(linkSecret, `"alice"`, linkExpires))
	}
	for _, bad := range []string{"", "x", tok + "A", tok[:len(tok)-1], strings.Repeat("A", LinkTokenLength), tok[:10] + "+" + tok[11:]} {
		_, err := ParseLinkToken(bad)
		assert.ErrorIs(t, err, ErrBadLink, bad)
	}
	// An index past the approvers' limit is refused.
	_, err = ParseLinkToken(LinkToken(linkSecret, id, MaxApprovers, `"x"`, linkExpires))
	assert.ErrorIs(t, err, ErrBadLink)
}

// FuzzParseLinkToken: whatever the URL holds, parsing never panics, and a
// token it accepts is one LinkToken could have made: it re-encodes to
// itself.
func FuzzParseLinkToken(f *testing.F) {
	id, _ := keys.ParseApprovalID("3f0c6a8e-5b7d-4c1e-9a2b-1d2e3f4a5b6c")
	f.Add(LinkToken(linkSecret, id, 0, `"alice"`, linkExpires))
	f.Add(LinkToken(linkSecret, id, 19, `"bob"`, linkExpires))
	for _, s := range []string{"", "A", strings.Repeat("_", LinkTokenLength), strings.Repeat("A", LinkTokenLength)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLinkToken(s)
		if err != nil {
			return
		}
		if l.Index < 0 || l.Index >= MaxApprovers {
			t.Fatalf("index %d", l.Index)
		}
		if _, err := keys.ParseApprovalID(l.Approval.String()); err != nil {
			t.Fatalf("approval id %q", l.Approval)
		}
		if l.Verify(linkSecret, `"alice"`, linkExpires) && s != LinkToken(linkSecret, l.Approval, l.Index, `"alice"`, linkExpires) {
			t.Fatalf("%q verifies but is not the token", s)
		}
	})
}

// The quorum rule, against a count of every order of votes: approved
// exactly when min approvals came before any rejection made it impossible;
// rejected at the first rejection; and once final, no later vote changes it.
func TestOutcomeProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(1, MaxApprovers).Draw(rt, "approvers")
		min := rapid.IntRange(1, n).Draw(rt, "min")
		votes := rapid.SliceOfN(rapid.Bool(), 0, n).Draw(rt, "votes (true approves)")
		approvals, rejections := 0, 0
		final := Pending
		for _, approve := range votes {
			if final != Pending {
				break // the approval is final: no vote is taken
			}
			if approve {
				approvals++
			} else {
				rejections++
			}
			final = Outcome(n, min, approvals, rejections)
			switch {
			case !approve && final != Rejected:
				rt.Fatalf("a rejection left it %s", final)
			case approve && approvals >= min && rejections == 0 && final != Approved:
				rt.Fatalf("%d of %d approvals left it %s", approvals, min, final)
			case approve && approvals < min && final != Pending:
				rt.Fatalf("%d of %d approvals made it %s", approvals, min, final)
			}
		}
		if approvals+rejections == n && final == Pending {
			rt.Fatalf("every approver voted and it is still pending")
		}
	})
	assert.Equal(t, Pending, Outcome(3, 2, 0, 0))
	assert.Equal(t, Pending, Outcome(3, 2, 1, 0))
	assert.Equal(t, Approved, Outcome(3, 2, 2, 0))
	assert.Equal(t, Rejected, Outcome(3, 2, 1, 1))
	assert.Equal(t, Approved, Outcome(1, 1, 1, 0))
}

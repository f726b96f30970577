package approval

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/ai-rails/state-service/shared/keys"
)

// A link token grants one approver one vote on one approval, through
// {PUBLIC_BASE_URL}/approve/{token}. It carries, in clear, the approval id
// (16 bytes) and the approver's index in approvers (1 byte), so that the
// approval is found from the URL with one read, then a MAC (32 bytes):
// HMAC-SHA256 keyed by APPROVAL_LINK_SECRET over the approval id, the
// approver's canonical identity and the approval's expiry. The whole is
// base64url without padding. A token is worthless after the expiry, on
// another approval, or once the secret is rotated.
const (
	linkIDBytes  = 16
	linkMACBytes = sha256.Size
	linkBytes    = linkIDBytes + 1 + linkMACBytes
	// LinkTokenLength is the length of a token's text.
	LinkTokenLength = (linkBytes*8 + 5) / 6
)

// ErrBadLink is every refusal of a token: malformed, tampered, foreign.
var ErrBadLink = errors.New("approval: not a valid approval link")

// Link is a parsed token, not yet verified.
type Link struct {
	Approval keys.ApprovalID
	// Index is the approver's position in the approval's approvers.
	Index int
	mac   [linkMACBytes]byte
}

// LinkToken makes the token of the approver at index, whose canonical
// identity is approverKey, for the approval id that expires at expires.
func LinkToken(secret []byte, id keys.ApprovalID, index int, approverKey string, expires time.Time) string {
	raw, _ := hex.DecodeString(strings.ReplaceAll(id.String(), "-", ""))
	b := make([]byte, 0, linkBytes)
	b = append(b, raw...)
	b = append(b, byte(index))
	b = append(b, linkMAC(secret, id, approverKey, expires)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseLinkToken reads a token's approval id and approver index. It does
// not check the MAC: Verify does, once the approval is read.
func ParseLinkToken(s string) (Link, error) {
	if len(s) != LinkTokenLength {
		return Link{}, ErrBadLink
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != linkBytes || base64.RawURLEncoding.EncodeToString(b) != s {
		return Link{}, ErrBadLink
	}
	h := hex.EncodeToString(b[:linkIDBytes])
	id, err := keys.ParseApprovalID(h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:])
	if err != nil || int(b[linkIDBytes]) >= MaxApprovers {
		return Link{}, ErrBadLink
	}
	l := Link{Approval: id, Index: int(b[linkIDBytes])}
	copy(l.mac[:], b[linkIDBytes+1:])
	return l, nil
}

// Verify reports, in constant time, whether the token was made with secret
// for the approver whose canonical identity is approverKey, on this
// approval with this expiry.
func (l Link) Verify(secret []byte, approverKey string, expires time.Time) bool {
	return hmac.Equal(l.mac[:], linkMAC(secret, l.Approval, approverKey, expires))
}

func linkMAC(secret []byte, id keys.ApprovalID, approverKey string, expires time.Time) []byte {
	m := hmac.New(sha256.New, secret)
	// Each part is length-prefixed, so no two inputs run together.
	for _, part := range []string{id.String(), approverKey, strconv.FormatInt(expires.UnixNano(), 10)} {
		m.Write([]byte(strconv.Itoa(len(part)) + ":" + part))
	}
	return m.Sum(nil)
}

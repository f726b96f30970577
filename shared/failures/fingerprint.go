package failures

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// SignatureLines is how many lines of a failure its signature keeps.
const SignatureLines = 3

var (
	// Lines that say where, not what: stack frames of Java, JavaScript,
	// Python and Go, code excerpts, and the headers around them.
	frameRE = lazyRE(`^\s*(?:at\s+\S|File ".*", line \d+|Traceback \(most recent call last\)|During handling of the above exception|The above exception was the direct cause|goroutine \d+ \[|created by |\.\.\.\s*$|[>│|]?\s*\d+\s*[│|]|●|\.\.\. \d+ more|Caused by: |[\w./-]+\.go:\d+ \+0x[0-9a-f]+$)`)
	// pytest marks the lines of the error itself with "E".
	pytestE = lazyRE(`^E\s+(.*)$`)
)

// Lines returns the lines of a failure that say what failed, normalised:
// pytest's "E" lines when there are any, and otherwise every line that is
// not a stack frame or a code excerpt.
func Lines(msg string) []string {
	raw := strings.Split(msg, "\n")
	var eLines []string
	for _, l := range raw {
		if m := pytestE().FindStringSubmatch(strings.TrimRight(l, "\r")); m != nil {
			eLines = append(eLines, m[1])
		}
	}
	if len(eLines) > 0 {
		raw = eLines
	}
	var kept []string
	for _, l := range raw {
		if frameRE().MatchString(l) {
			continue
		}
		kept = append(kept, l)
	}
	n := Normalise(strings.Join(kept, "\n"))
	if n == "" {
		return nil
	}
	return strings.Split(n, "\n")
}

// Signature is the part of a failure its fingerprint hashes: the first
// SignatureLines of Lines, or the test's name when the message says nothing.
func Signature(test, msg string) string {
	lines := Lines(msg)
	if len(lines) == 0 {
		return "test: " + Normalise(test)
	}
	return strings.Join(lines[:min(len(lines), SignatureLines)], "\n")
}

// Fingerprint names a failure: two failures with one fingerprint are the
// same failure. It is 16 hex digits of the SHA-256 of the signature.
func Fingerprint(test, msg string) string {
	sum := sha256.Sum256([]byte(Signature(test, msg)))
	return hex.EncodeToString(sum[:8])
}

// IsFingerprint reports whether s has a fingerprint's form.
func IsFingerprint(s string) bool {
	if len(s) != 16 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !(s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'f') {
			return false
		}
	}
	return true
}

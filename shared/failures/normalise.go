// Package failures is the failure memory's model: a failure message
// normalised, its fingerprint (which failures are the same failure), its
// embedding (which failures are alike), the failure groups and the similar
// failures the API answers, and the interface of the service that keeps
// them.
package failures

import (
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

// The placeholders Normalise puts where the varying parts were. None holds
// a digit, so normalising twice changes nothing.
const (
	PlaceUUID   = "<uuid>"
	PlaceTime   = "<time>"
	PlaceTemp   = "<tmp>"
	PlaceHex    = "<hex>"
	PlacePos    = "<pos>"
	PlaceNumber = "<n>"
)

var (
	uuidRE = lazyRE(`(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`)
	// An ISO 8601 date with an optional time and zone, or a bare clock time.
	timeRE = lazyRE(`\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b|\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b`)
	// Temporary directories: Unix /tmp and /var/tmp, macOS /var/folders,
	// Windows' AppData\Local\Temp; the rest of the path goes with them.
	tempRE = lazyRE(`(?i)(?:/private)?/(?:tmp|var/tmp|var/folders)/[^\s:'"()\[\],;]*|[a-z]:\\(?:users\\[^\\\s]+\\appdata\\local\\temp|windows\\temp)\\[^\s:'"()\[\],;]*`)
	// 0x addresses, and runs of at least 8 hex digits (hashes, object ids).
	hexRE = lazyRE(`\b0[xX][0-9a-fA-F]+\b|\b[0-9a-fA-F]{8,}\b`)
	// A position after a file name or a colon: file.go:12:5, :12:5.
	posRE = lazyRE(`(\.[A-Za-z]\w*):\d+(?::\d+)?\b|:\d+:\d+\b`)
	space = lazyRE(`[ \t\f\v\r]+`)
)

// MaxNormalised bounds what Normalise returns, in bytes.
const MaxNormalised = 16 << 10

// Normalise rewrites a failure message so that two runs of one failure read
// the same: UUIDs, timestamps, temporary paths, hex addresses and hashes,
// line:column positions and numbers become placeholders, white space runs
// become one space, and blank lines go. Digits inside words (int64, sha256,
// test_upload0) are part of a name and stay.
func Normalise(msg string) string {
	if !utf8.ValidString(msg) {
		msg = strings.ToValidUTF8(msg, "\uFFFD")
	}
	if len(msg) > MaxNormalised {
		msg = msg[:MaxNormalised]
		for !utf8.ValidString(msg) {
			msg = msg[:len(msg)-1]
		}
	}
	msg = uuidRE().ReplaceAllString(msg, PlaceUUID)
	msg = timeRE().ReplaceAllString(msg, PlaceTime)
	msg = tempRE().ReplaceAllString(msg, PlaceTemp)
	msg = hexRE().ReplaceAllStringFunc(msg, func(s string) string {
		if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") || strings.ContainsAny(s, "0123456789") && strings.IndexFunc(s, isHexLetter) >= 0 {
			return PlaceHex
		}
		return s
	})
	msg = posRE().ReplaceAllStringFunc(msg, func(s string) string {
		if s[0] == ':' {
			return ":" + PlacePos
		}
		return s[:strings.IndexByte(s, ':')] + ":" + PlacePos
	})
	msg = numbers(msg)
	lines := strings.Split(msg, "\n")
	out := lines[:0]
	for _, l := range lines {
		if l = strings.TrimSpace(space().ReplaceAllString(l, " ")); l != "" {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func isHexLetter(r rune) bool { return r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F' }

// numbers replaces each number that is not part of a word (a digit run not
// straight after a letter or digit), with its fraction and exponent, by
// PlaceNumber.
func numbers(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if !isDigit(c) {
			b.WriteByte(c)
			i++
			continue
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if i > 0 && isWordByte(s[i-1]) {
			b.WriteString(s[i:j]) // part of a name
			i = j
			continue
		}
		if j+1 < len(s) && s[j] == '.' && isDigit(s[j+1]) {
			j++
			for j < len(s) && isDigit(s[j]) {
				j++
			}
		}
		if j+1 < len(s) && (s[j] == 'e' || s[j] == 'E') {
			k := j + 1
			if k < len(s) && (s[k] == '+' || s[k] == '-') {
				k++
			}
			if k < len(s) && isDigit(s[k]) {
				for k < len(s) && isDigit(s[k]) {
					k++
				}
				j = k
			}
		}
		b.WriteString(PlaceNumber)
		i = j
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

// lazyRE compiles expr on first use: the package's expressions serve only
// result uploads with failures, and compiling them all cost every cold
// start of every function.
func lazyRE(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

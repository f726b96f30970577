// Package identity validates the names people and programs go by in the API
// (an approval's requester and approver, a lock's owner) and gives the form
// they are compared by, so that "CI-BOT", "ci‐bot" (U+2010) and "ci-bot"
// are one identity, and "ci-bot " or "ci-bot\u200b" are refused.
package identity

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Check returns why s is not a valid identity of 1 to max characters, or
// "": it must be UTF-8, without leading or trailing white space, and
// without control (Cc) or format (Cf: zero-width and direction marks)
// characters anywhere.
func Check(s string, max int) string {
	n := utf8.RuneCountInString(s)
	switch {
	case n < 1 || n > max:
		return fmt.Sprintf("must be 1 to %d characters", max)
	case !utf8.ValidString(s):
		return "must be UTF-8"
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	if unicode.IsSpace(first) || unicode.IsSpace(last) {
		return "must not begin or end with white space"
	}
	for _, r := range s {
		if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) {
			return fmt.Sprintf("must not hold control or invisible format characters (U+%04X)", r)
		}
	}
	return ""
}

var fold = cases.Fold()

// Canonical is the form identities are compared by: NFKC (which folds
// full-width and other compatibility forms), every dash (Unicode Pd) as
// "-", every space (Zs) as " ", then Unicode case folding, and NFKC again.
// The API stores and answers what was sent; only comparisons use this.
//
// One pass is not always stable (case folding maps lowercase Cherokee to
// uppercase, and some uppercase back after a combining mark), so the passes
// repeat until the form stops changing.
func Canonical(s string) string {
	for range 4 {
		next := canonicalPass(s)
		if next == s {
			break
		}
		s = next
	}
	return s
}

func canonicalPass(s string) string {
	s = norm.NFKC.String(s)
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.Is(unicode.Pd, r):
			return '-'
		case unicode.Is(unicode.Zs, r):
			return ' '
		}
		return r
	}, s)
	return norm.NFKC.String(fold.String(s))
}

// Same reports whether a and b are the same identity.
func Same(a, b string) bool { return Canonical(a) == Canonical(b) }

package failures

import (
	"hash/fnv"
	"math"
	"strings"
	"unicode"
)

// Dimension is the length of an embedding; the Vector index is made with
// it and cosine similarity.
const Dimension = 512

// Weights of the features an embedding hashes: word tokens count most,
// then word pairs, then character trigrams, which catch words that differ
// only a little (ConnectionRefused and connection refused); placeholders
// say little.
const (
	weightWord        = 1.0
	weightPair        = 0.7
	weightTrigram     = 0.35
	weightPlaceholder = 0.2
	weightPart        = 0.7
	// embedBytes bounds the text an embedding reads.
	embedBytes = 4 << 10
)

// EmbedText is the text an embedding is made from: the lines of Lines, at
// most embedBytes of them.
func EmbedText(msg string) string {
	t := strings.Join(Lines(msg), "\n")
	if len(t) > embedBytes {
		t = t[:embedBytes]
	}
	return t
}

// Embed maps a failure message to a unit vector of Dimension, in process
// and deterministically, with no model: the normalised text's word tokens,
// word pairs and character trigrams are hashed into Dimension buckets
// (with a hashed sign, so collisions cancel rather than add up), weighted
// by 1 + ln(count), and the vector is scaled to length 1. Two messages
// that share most of their words point the same way. An empty message
// embeds as the zero vector.
func Embed(msg string) []float32 { return Vector(EmbedText(msg)) }

// Vector is Embed of a text EmbedText has already made.
func Vector(embedText string) []float32 { return embedTokens(Tokens(embedText)) }

// Searchable reports whether a text EmbedText has made has a word to
// search by: one that is not a placeholder.
func Searchable(embedText string) bool {
	for _, t := range Tokens(embedText) {
		if !isPlaceholder(t) && !strings.HasPrefix(t, "+") {
			return true
		}
	}
	return false
}

// stopWords say little about a failure's cause; they weigh as much as a
// placeholder.
var stopWords = map[string]bool{
	"a": true, "an": true, "the": true, "at": true, "in": true, "of": true, "to": true, "for": true, "on": true,
	"is": true, "was": true, "be": true, "by": true, "with": true, "and": true, "or": true, "not": true,
	"error": true, "err": true, "e": true, "exception": true, "test": true, "tests": true, "go": true, "py": true,
	"js": true, "ts": true, "java": true, "com": true, "example": true, "src": true, "app": true, "object": true,
	"anonymous": true, "node": true, "internal": true, "run": true, "runner": true, "home": true, "work": true,
}

// camelParts splits a compound name at its case changes:
// "ConnectionRefusedError" into Connection, Refused, Error. A name with one
// part gives nil.
func camelParts(w string) []string {
	var parts []string
	start := 0
	rs := []rune(w)
	for i := 1; i < len(rs); i++ {
		if unicode.IsUpper(rs[i]) && (unicode.IsLower(rs[i-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1])) {
			parts = append(parts, string(rs[start:i]))
			start = i
		}
	}
	if start == 0 {
		return nil
	}
	return append(parts, string(rs[start:]))
}

// Tokens splits normalised text into lower-case words: runs of letters and
// digits, with the placeholders kept whole ("<n>"). A compound name is
// followed by its parts, each marked with a leading "+":
// "ConnectionRefusedError" gives connectionrefusederror, +connection,
// +refused, +error.
func Tokens(text string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(text, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '<' && r != '>'
	}) {
		for _, w := range splitPlaceholders(f) {
			out = append(out, strings.ToLower(w))
			for _, p := range camelParts(w) {
				out = append(out, "+"+strings.ToLower(p))
			}
		}
	}
	return out
}

// splitPlaceholders cuts "<n>ms" into "<n>" and "ms", and drops stray
// angle brackets.
func splitPlaceholders(f string) []string {
	var out []string
	for f != "" {
		i := strings.IndexByte(f, '<')
		if i < 0 {
			out = appendWord(out, f)
			break
		}
		out = appendWord(out, f[:i])
		j := strings.IndexByte(f[i:], '>')
		if j < 0 {
			out = appendWord(out, f[i+1:])
			break
		}
		if p := f[i : i+j+1]; isPlaceholder(p) {
			out = append(out, p)
		} else {
			out = appendWord(out, f[i+1:i+j])
		}
		f = f[i+j+1:]
	}
	return out
}

func appendWord(out []string, w string) []string {
	w = strings.Trim(w, "<>")
	if w == "" {
		return out
	}
	return append(out, w)
}

func isPlaceholder(s string) bool {
	switch s {
	case PlaceUUID, PlaceTime, PlaceTemp, PlaceHex, PlacePos, PlaceNumber:
		return true
	}
	return false
}

func embedTokens(words []string) []float32 {
	type feature struct{ weight, count float64 }
	feats := map[string]*feature{}
	add := func(key string, weight float64) {
		f := feats[key]
		if f == nil {
			f = &feature{weight: weight}
			feats[key] = f
		}
		f.count++
	}
	prev := ""
	for _, w := range words {
		if part, ok := strings.CutPrefix(w, "+"); ok {
			// A part of a compound name counts as a word too:
			// ConnectionRefusedError says connection, refused, error.
			if !stopWords[part] {
				add("w:"+part, weightPart)
			}
			continue
		}
		switch {
		case isPlaceholder(w), stopWords[w]:
			add("w:"+w, weightPlaceholder)
		default:
			add("w:"+w, weightWord)
			padded := "^" + w + "$"
			for j := 0; j+3 <= len(padded); j++ {
				add("t:"+padded[j:j+3], weightTrigram)
			}
		}
		if prev != "" {
			add("p:"+prev+" "+w, weightPair)
		}
		prev = w
	}
	v := make([]float64, Dimension)
	for key, f := range feats {
		h := fnv.New64a()
		h.Write([]byte(key))
		sum := h.Sum64()
		sign := 1.0
		if sum>>63 == 1 {
			sign = -1
		}
		// Sublinear: a word said ten times is not ten times the evidence.
		v[sum%Dimension] += sign * f.weight * (1 + math.Log(f.count))
	}
	var norm float64
	for _, x := range v {
		norm += x * x
	}
	out := make([]float32, Dimension)
	if norm == 0 {
		return out
	}
	norm = math.Sqrt(norm)
	for i, x := range v {
		out[i] = float32(x / norm)
	}
	return out
}

// Cosine is the cosine similarity of two vectors of one length; 0 when
// either is zero.
func Cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

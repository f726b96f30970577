// Package jsondoc is the JSON form of every document the service stores and
// serves: canonical encoding (compact, map keys sorted, no HTML escaping) and
// the one fixed-width time format. Domains build their documents with it,
// and the store's scripts rely on both: they compare keys, values and times
// by their text.
package jsondoc

import (
	"bytes"
	"encoding/json"
	"time"
)

// TimeLayout is the one timestamp format of stored documents: RFC 3339 in
// UTC with exactly nine fractional digits, so that the scripts can compare
// timestamps as strings. Years run from 1970 to 9999.
const TimeLayout = "2006-01-02T15:04:05.000000000Z"

// FormatTime formats t in TimeLayout.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// Canonical encodes v as the store keeps JSON: compact, map keys sorted, no
// HTML escaping. The scripts compare keys and values by their text, so every
// document they read must be written this way.
func Canonical(v any) []byte {
	b, _ := Marshal(v)
	return b
}

// Marshal is Canonical, with the encoder's error: for values that may hold
// what JSON cannot (a NaN or an infinity).
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Package jsondoc is the JSON form of every document the service stores and
// serves: canonical encoding (compact, map keys sorted, no HTML escaping) and
// the one fixed-width time format. Domains build their documents with it,
// and the store's scripts rely on both: they compare keys, values and times
// by their text.
package jsondoc

import (
	json2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
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

// Unmarshal decodes a stored document: JSON that the store wrote. It is
// go-json-experiment's decoder, about twice as fast as encoding/json's on
// the service's documents, with a fifth of the allocations; like
// encoding/json it lets duplicate names and invalid UTF-8 through, which a
// document stored by an older version might hold.
func Unmarshal(b []byte, v any) error {
	return json2.Unmarshal(b, v, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
}

// Time is an instant as a stored document holds it and an answer shows it.
// The store keeps nanoseconds since the Unix epoch, an integer, which the
// scripts compare and step without calendar arithmetic; answers carry
// TimeLayout text. It reads either form, so that documents stored before
// times were integers read as they did.
type Time struct{ time.Time }

// MarshalJSON writes TimeLayout text.
func (t Time) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(TimeLayout)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, TimeLayout)
	return append(b, '"'), nil
}

// UnmarshalJSON reads nanoseconds since the epoch, or RFC 3339 text.
func (t *Time) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return err
		}
		t.Time = v.UTC()
		return nil
	}
	ns, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("jsondoc: a time is nanoseconds since the epoch or RFC 3339 text, not %.40s", b)
	}
	t.Time = time.Unix(0, ns).UTC()
	return nil
}

// Nanos is t as the scripts take it: nanoseconds since the epoch, in
// decimal.
func Nanos(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }

// Package storekit is what every store builds on: how the store keeps JSON
// (canonical documents, fixed-width RFC 3339 times), the Lua helpers the
// scripts share (JSON objects handled as text: split, join, RFC 7396 merge;
// timestamps: parse, format, add, keep rising; history and audit trails),
// reading documents and trails back, and the paged, filtered list script
// with its opaque cursor. Scripts are built with Script, which prepends the
// helpers.
package storekit

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"time"

	"github.com/ai-rails/state-service/shared/upstash"
)

//go:embed lib.lua
var lib string

// LuaLib returns the helpers' source.
func LuaLib() string { return lib }

// Script returns an upstash.Script of the helpers followed by body.
func Script(body string) *upstash.Script { return upstash.NewScript(lib + "\n" + body) }

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

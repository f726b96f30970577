// Package storekit is what every store builds on: the Lua helpers the
// scripts share (arguments by name; JSON objects handled as text: split,
// join, RFC 7396 merge; integer nanosecond times that only rise, with no
// calendar arithmetic; history and audit trails),
// reading documents and trails back, and the paged, filtered list script
// with its opaque cursor. Scripts are built with Script, which prepends the
// helpers.
package storekit

import (
	_ "embed"

	"github.com/ai-rails/state-service/shared/upstash"
)

//go:embed lib.lua
var lib string

// Script returns an upstash.Script of the helpers followed by body.
func Script(body string) *upstash.Script { return upstash.NewScript(lib, "\n", body) }

// Args are a script's arguments by name: name, value pairs, which the
// script reads into a table with named_args (lib.lua). Lists go as numbered
// names: "id.1", "id.2", ...
type Args []any

// Add appends the named argument.
func (a Args) Add(name string, v any) Args { return append(a, name, v) }

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
	"fmt"
	"strings"

	"github.com/ai-rails/state-service/shared/upstash"
)

//go:embed lib.lua
var lib string

// Script returns an upstash.Script of the helpers followed by body.
func Script(body string) *upstash.Script { return upstash.NewScript(lib, "\n", body) }

// ScriptWith is Script with arguments that are the same for every call
// written into its source, where named_args reads them as if they were
// sent: a call then carries only what changes. consts runs on first use.
// Their names and values are plain printable ASCII, without quotes or
// backslashes.
func ScriptWith(body string, consts func() Args) *upstash.Script {
	return upstash.LazyScript(func() string {
		var b strings.Builder
		b.WriteString(lib)
		b.WriteString("\nCONSTS = {")
		a := consts()
		for i := 0; i+1 < len(a); i += 2 {
			name, value := fmt.Sprint(a[i]), fmt.Sprint(a[i+1])
			if !luaPlain(name) || !luaPlain(value) {
				panic(fmt.Sprintf("storekit.ScriptWith: constant %q = %q is not plain ASCII", name, value))
			}
			fmt.Fprintf(&b, "['%s']='%s',", name, value)
		}
		b.WriteString("}\n")
		b.WriteString(body)
		return b.String()
	})
}

// luaPlain reports whether s can sit in a single-quoted Lua string as it is.
func luaPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '\'' || c == '\\' {
			return false
		}
	}
	return true
}

// Args are a script's arguments by name: name, value pairs, which the
// script reads into a table with named_args (lib.lua). Lists go as numbered
// names: "id.1", "id.2", ...
type Args []any

// Add appends the named argument.
func (a Args) Add(name string, v any) Args { return append(a, name, v) }

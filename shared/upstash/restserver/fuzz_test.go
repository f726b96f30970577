package restserver_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ai-rails/state-service/shared/upstash/restserver"
)

// FuzzParseCommand checks that any body either decodes to a command with a
// name or is refused, never panics.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{`["SET","k","v","EX",100]`, `["GET",1.5e3,true]`, `[]`, `[null]`, `{"a":1}`, `["x"] y`, `["\ud800"]`,
		"[\"SET\",\"caf\xc3\xa9\",\"\xff\"]", `["SET","a\"b","\u00e9\n"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		cmd, err := restserver.ParseCommand(body)
		if err != nil {
			return
		}
		if len(cmd) == 0 || cmd[0] == "" {
			t.Fatalf("accepted a command without a name: %q", cmd)
		}
		// Every string argument reads as encoding/json reads it; the fast
		// path for plain strings must not differ.
		var raw []any
		if err := json.Unmarshal(body, &raw); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", body, err)
		}
		for i, v := range raw {
			if s, ok := v.(string); ok && s != cmd[i] {
				t.Fatalf("argument %d of %q: %q, encoding/json reads %q", i, body, cmd[i], s)
			}
		}
	})
}

// FuzzParseBatch checks pipelines and transactions the same way.
func FuzzParseBatch(f *testing.F) {
	for _, s := range []string{`[["SET","k","v"],["GET","k"]]`, `[[]]`, `[]`, `[["a"],1]`, `[[1,2,3]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		cmds, err := restserver.ParseBatch(body)
		if err != nil {
			return
		}
		if len(cmds) == 0 {
			t.Fatal("accepted an empty batch")
		}
		for _, c := range cmds {
			if len(c) == 0 || c[0] == "" {
				t.Fatalf("accepted a command without a name: %q", c)
			}
		}
	})
}

// FuzzParsePath checks that path-form commands split into named commands and
// that no argument keeps an escape sequence it should have decoded.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/set/k/v/EX/100", "/get/a%2Fb", "/%zz", "//", "/get/%E2%82%AC/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		cmd, err := restserver.ParsePath(path)
		if err != nil {
			return
		}
		if len(cmd) == 0 || cmd[0] == "" {
			t.Fatalf("accepted a command without a name: %q", cmd)
		}
		if utf8.ValidString(path) && !strings.Contains(path, "%") && strings.Join(cmd, "/") != strings.TrimSuffix(strings.TrimPrefix(path, "/"), "/") {
			t.Fatalf("plain path %q split into %q", path, cmd)
		}
	})
}

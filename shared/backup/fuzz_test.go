package backup_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ai-rails/state-service/shared/backup"
)

// FuzzVerify feeds backup files (the text inside the gzip) to the reader a
// restore uses. A file is a restore's outside input: whatever it holds,
// reading it never panics, every refusal wraps ErrCorrupt, and a file it
// accepts holds exactly the keys its end record counts.
func FuzzVerify(f *testing.F) {
	header := `{"format":"ai-rails-backup","version":1,"prefix":"ai_rails_","created_at":"2026-11-26T10:00:00Z"}` + "\n"
	end := func(n int) string { return `{"end":true,"keys":` + string(rune('0'+n)) + "}\n" }
	records := []string{
		`{"k":"ai_rails_s","t":"string","ttl_ms":-1,"v":"v"}`,
		`{"k":{"b64":"/w=="},"t":"string","ttl_ms":5000,"v":{"b64":"AAE="}}`,
		`{"k":"ai_rails_h","t":"hash","ttl_ms":-1,"v":[["f","v"],["g","w"]]}`,
		`{"k":"ai_rails_z","t":"zset","ttl_ms":-1,"v":[["m","1.5"]]}`,
		`{"k":"ai_rails_e","t":"set","ttl_ms":-1,"v":[]}`,
		`{"k":"ai_rails_l","t":"list","ttl_ms":-1,"v":["a","b"]}`,
		`{"k":"ai_rails_x","t":"stream","ttl_ms":-1,"v":[["1-1",["f","v"]]]}`,
		`{"k":"ai_rails_x","t":"stream","ttl_ms":-1,"v":[["1-1",["f"]]]}`,
		`{"k":"ai_rails_x","t":"stream","ttl_ms":-1,"v":[["1-1"]]}`,
		`{"k":"ai_rails_x","t":"stream","ttl_ms":-1,"v":[[7,["f","v"]]]}`,
		`{"k":"ai_rails_h","t":"hash","ttl_ms":-1,"v":"not pairs"}`,
		`{"k":"ai_rails_l","t":"list","ttl_ms":-1,"v":{"b64":"%%"}}`,
		`{"k":"ai_rails_s","t":"string","ttl_ms":-1,"v":{"b64":7}}`,
		`{"k":"ai_rails_s","t":"bloom","ttl_ms":-1,"v":"v"}`,
		`{"k":"ai_rails_s","t":"string","ttl_ms":-1,"v":"v","extra":1}`,
	}
	f.Add(header + strings.Join(records[:7], "\n") + "\n" + end(7))
	for _, r := range records {
		f.Add(header + r + "\n" + end(1))
	}
	f.Add(header + end(0))
	f.Add(header + `{"end":false,"keys":0}` + "\n")
	f.Add(header + end(0) + records[0] + "\n")
	f.Add(header + records[0])
	f.Add(`{"format":"other","version":1}` + "\n" + end(0))
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write([]byte(text))
		_ = zw.Close()
		h, n, err := backup.Verify(&buf)
		if err != nil {
			if !errors.Is(err, backup.ErrCorrupt) {
				t.Fatalf("a refusal that is not ErrCorrupt: %v", err)
			}
			return
		}
		if h.Format != backup.Format || h.Version != backup.Version {
			t.Fatalf("accepted header %+v", h)
		}
		// Accepted: the lines between the header and the end record are the
		// keys, as many as the end record says.
		lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
		var e backup.End
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &e); err != nil || !e.End || e.Keys != n {
			t.Fatalf("accepted %d keys, end line %q", n, lines[len(lines)-1])
		}
		if int64(len(lines)-2) != n {
			t.Fatalf("accepted %d keys from %d lines", n, len(lines)-2)
		}
	})
}

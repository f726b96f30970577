package upstash

import (
	"encoding/base64"
	"testing"
)

// FuzzAnswer feeds arbitrary answer bodies to the decoder the client runs on
// every answer. It must return a value or an error, never panic, and decoded
// strings must be what the base64 said.
func FuzzAnswer(f *testing.F) {
	for _, s := range []string{
		`{"result":"T0s="}`, `{"result":"OK"}`, `{"result":null}`, `{"result":12}`,
		`{"result":["YQ==",null,["Yg=="],3]}`, `{"error":"WRONGTYPE x"}`, `[{"result":1},{"error":"ERR"}]`,
		`{"result":1.5}`, `{"result":{"a":1}}`, `{"result":"!!"}`, `{`, `[] []`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		v, err := parseJSON(body)
		if err != nil {
			return
		}
		if items, ok := v.([]any); ok {
			for _, it := range items {
				_, _ = resultOf(it)
			}
			return
		}
		res, err := resultOf(v)
		if err != nil {
			return
		}
		m := v.(map[string]any)
		if s, ok := m["result"].(string); ok && s != "OK" {
			want, derr := base64.StdEncoding.DecodeString(s)
			if derr != nil || res != string(want) {
				t.Fatalf("decoded %q to %q", s, res)
			}
		}
	})
}

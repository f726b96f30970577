package workflow

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/keys"
)

// FuzzSaveAndPatchBodies feeds arbitrary bodies through the decoding and
// validation a write goes through. Whatever passes must be what the scripts
// expect: canonical JSON strings and objects, statuses from the table,
// TTLs in range.
func FuzzSaveAndPatchBodies(f *testing.F) {
	for _, s := range []string{
		`{"workflow_id":"ABC-123456","feature_description":"x","metadata":{"a":[1,null]},"ttl_hours":5}`,
		`{"workflow_id":"ABC-123456","status":"done"}`, `{"metadata":{"a":null},"current_stage":null,"ttl_hours":null}`,
		`{"workflow_id":"ABC-123456","feature_description":"\u00e9\ud83d\ude00"}`, `{"ttl_hours":1e2}`, `{"metadata":"x"}`,
	} {
		f.Add([]byte(s))
	}
	id, _ := keys.ParseWorkflowID("ABC-123456")
	f.Fuzz(func(t *testing.T, body []byte) {
		var sb SaveBody
		if err := httpkit.Unmarshal(body, &sb); err == nil {
			if ch, err := ParseSave(sb); err == nil {
				checkChange(t, ch, false)
			} else if apperr.KindOf(err) != apperr.Validation {
				t.Fatalf("ParseSave: %v", err)
			}
		}
		var pb PatchBody
		if err := httpkit.Unmarshal(body, &pb); err == nil {
			if ch, err := ParsePatch(id, pb); err == nil {
				checkChange(t, ch, true)
			} else if apperr.KindOf(err) != apperr.Validation {
				t.Fatalf("ParsePatch: %v", err)
			}
		}
	})
}

func checkChange(t *testing.T, ch Change, patch bool) {
	t.Helper()
	if ch.Status != "" && !ch.Status.Valid() {
		t.Fatalf("status %q passed", ch.Status)
	}
	for _, raw := range []json.RawMessage{ch.FeatureDescription, ch.CurrentStage} {
		if raw == nil {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) != nil || string(canonical(s)) != string(raw) || !utf8.Valid(raw) {
			t.Fatalf("text %s is not a canonical JSON string", raw)
		}
	}
	if ch.Metadata != nil && !(patch && string(ch.Metadata) == "null") {
		var m map[string]any
		if json.Unmarshal(ch.Metadata, &m) != nil || m == nil {
			t.Fatalf("metadata %s is not an object", ch.Metadata)
		}
		if !patch && len(ch.Metadata) > MaxMetadataBytes {
			t.Fatalf("metadata of %d bytes passed", len(ch.Metadata))
		}
	}
	if ch.TTLHours != nil && (*ch.TTLHours < MinTTLHours || *ch.TTLHours > MaxTTLHours) {
		t.Fatalf("ttl_hours %d passed", *ch.TTLHours)
	}
}

// FuzzParseCondition checks If-Match and If-None-Match parsing.
func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{`"1"`, `*`, `W/"2", "3"`, `1`, `""`, `"-1"`, `"99999999999999999999"`} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, v string, match bool) {
		im, inm := v, ""
		if !match {
			im, inm = "", v
		}
		c, err := ParseCondition(im, inm, true)
		if err != nil {
			return
		}
		for _, n := range c.Versions {
			if n < 1 {
				t.Fatalf("version %d from %q", n, v)
			}
		}
	})
}

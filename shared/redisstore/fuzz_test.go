package redisstore

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/keys"
)

// FuzzParseWorkflowCursor checks that only cursors of the list's own form decode.
func FuzzParseWorkflowCursor(f *testing.F) {
	id, _ := keys.ParseWorkflowID("ABC-123456")
	f.Add(workflowCursor{Score: "1795600000000", Member: id}.Encode())
	for _, s := range []string{"dzE6MTI6YmFkIGlk", "", "bm9wZQ", "dzE6MTI6QUJDLTEyMzQ1Ng", "!!!", "dzE6LTE6QUJDLTEyMzQ1Ng"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseWorkflowCursor(s)
		if err != nil {
			if apperr.KindOf(err) != apperr.Validation {
				t.Fatalf("kind %d", apperr.KindOf(err))
			}
			return
		}
		if _, err := keys.ParseWorkflowID(c.Member.String()); err != nil {
			t.Fatalf("cursor member %q", c.Member)
		}
		if back, _ := parseWorkflowCursor(c.Encode()); back != c {
			t.Fatalf("cursor %q does not round-trip", s)
		}
	})
}

// The write script builds the document with the fields of workflow.State,
// in its order, but expires_at, which is worked out on read.
func TestStateFields(t *testing.T) {
	if stateFields != "workflow_id,status,feature_description,current_stage,created_at,last_updated,ttl_hours,version,metadata,created_by" {
		t.Fatalf("stateFields = %q", stateFields)
	}
}

// A compact event and its JSON form read the same; damaged ones do not read.
func TestDecodeEvent(t *testing.T) {
	pairs := [][2]string{
		{`7|1795689000000000001|u|3|pending|in_progress|"a|b"`,
			`{"id":"7","at":1795689000000000001,"type":"updated","version":3,"status_from":"pending","status_to":"in_progress","stage":"a|b"}`},
		{`1|"2026-11-26T10:30:00.000000000Z"|c|1||pending|""`,
			`{"id":"1","at":"2026-11-26T10:30:00.000000000Z","type":"created","version":1,"status_from":null,"status_to":"pending","stage":""}`},
		{`2|1795689000000000002|d|1|pending||null`,
			`{"id":"2","at":1795689000000000002,"type":"deleted","version":1,"status_from":"pending","status_to":null,"stage":null}`},
	}
	for _, p := range pairs {
		got, err := decodeEvent(p[0])
		require.NoError(t, err, p[0])
		want, err := decodeEvent(p[1])
		require.NoError(t, err, p[1])
		assert.Equal(t, want, got, p[0])
	}
	for _, bad := range []string{"", "1|2|u", `x|1|u|1|||""`, `1|then|u|1|||""`, `1|1|z|1|||""`, `1|1|u|one|||""`, `1|1|u|1|||"open`, `{"id":`} {
		_, err := decodeEvent(bad)
		assert.Error(t, err, bad)
	}
}

// FuzzDecodeEvent: any element of a history list decodes or fails, and
// never panics.
func FuzzDecodeEvent(f *testing.F) {
	for _, s := range []string{`7|1795689000000000001|u|3|pending|in_progress|"a|b"`, `2|1|d|1|pending||null`,
		`{"id":"1","at":1,"type":"created","version":1,"status_from":null,"status_to":"pending","stage":""}`, "|||||||", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ev, err := decodeEvent(raw)
		if err == nil && !strings.HasPrefix(raw, "{") && ev.Type == "" {
			t.Fatalf("%q decoded with no type", raw)
		}
	})
}

package redisstore

import (
	"testing"

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
	if stateFields != "workflow_id,status,feature_description,current_stage,created_at,last_updated,ttl_hours,version,metadata" {
		t.Fatalf("stateFields = %q", stateFields)
	}
}

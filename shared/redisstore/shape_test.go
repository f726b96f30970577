package redisstore

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
)

// A field of the stored shape that the write script has no value for fails
// the write, and writes nothing: a field added to workflow.State without
// the script cannot go unnoticed.
func TestAFieldTheScriptDoesNotKnowFailsTheWrite(t *testing.T) {
	c := upstashtest.Mini(t).Client(t, upstash.Options{})
	w := NewWorkflows(c, keys.Default(), nil)
	id, _ := keys.ParseWorkflowID("ABC-123456")
	args := writeArgs{Mode: "save", ID: id.String(), Now: "1795600000000000000",
		NowText: "2026-11-26T10:00:00.000000000Z", FeatureDescription: json.RawMessage(`"x"`)}
	// A sent argument wins over the script's constant of that name.
	_, err := workflowWrite.Run(context.Background(), c, w.statusKeys(id), append(args.list(), "fields", stateFields+",colour")...)
	assert.ErrorContains(t, err, "no value for the field colour")
	n, _ := upstash.Int64(c.Do(context.Background(), "DBSIZE"))
	assert.Zero(t, n)
}

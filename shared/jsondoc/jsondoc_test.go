package jsondoc_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/jsondoc"
)

// A time reads from the store's integer nanoseconds and from RFC 3339 text
// (documents stored before), and always writes TimeLayout text.
func TestTimeReadsBothFormsAndWritesText(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC)
	for _, in := range []string{jsondoc.Nanos(at), `"2026-11-26T10:00:00.123456789Z"`, `"2026-11-26T11:00:00.123456789+01:00"`} {
		var v jsondoc.Time
		require.NoError(t, json.Unmarshal([]byte(in), &v), in)
		assert.True(t, v.Equal(at), in)
		out, err := json.Marshal(v)
		require.NoError(t, err)
		assert.Equal(t, `"2026-11-26T10:00:00.123456789Z"`, string(out), in)
	}
	for _, bad := range []string{`"yesterday"`, `"2026-11-26"`, `1.5e9`, `true`, `"\u00zz"`, `{}`} {
		var v jsondoc.Time
		assert.Error(t, json.Unmarshal([]byte(bad), &v), bad)
	}
}

func TestCanonical(t *testing.T) {
	assert.Equal(t, `{"a":"<b>","z":1}`, string(jsondoc.Canonical(map[string]any{"z": 1, "a": "<b>"})))
	_, err := jsondoc.Marshal(map[string]any{"n": func() {}})
	assert.Error(t, err)
}

package restclient

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A failed answer's {"error"} text is quoted, cut at 200 bytes.
func TestErrorSuffix(t *testing.T) {
	assert.Equal(t, ": ERR bad", errorSuffix([]byte(`{"error":"ERR bad"}`)))
	assert.Equal(t, ": "+strings.Repeat("x", 200), errorSuffix([]byte(`{"error":"`+strings.Repeat("x", 300)+`"}`)))
	assert.Empty(t, errorSuffix([]byte(`not json`)))
	assert.Empty(t, errorSuffix([]byte(`{"result":1}`)))
}

// Options log their token redacted, and say when it is not set.
func TestOptionsRedactTheToken(t *testing.T) {
	o := Options{URL: "https://x", Token: "s3cret"}
	for _, s := range []string{o.LogValue().String(), o.String(), o.GoString()} {
		assert.Contains(t, s, "<redacted>")
		assert.NotContains(t, s, "s3cret")
	}
	assert.Contains(t, Options{URL: "https://x"}.LogValue().String(), "<unset>")
}

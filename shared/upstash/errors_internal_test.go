package upstash

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// An error's prefix is its first word when that is an upper-case code
// (WRONGTYPE, NOSCRIPT), else ERR; a failed answer's text is quoted, cut at
// 200 bytes.
func TestErrorPrefixAndSuffix(t *testing.T) {
	for msg, want := range map[string]string{
		"WRONGTYPE Operation against a key": "WRONGTYPE", "NOSCRIPT No matching script": "NOSCRIPT",
		"CROSS_SLOT keys": "CROSS_SLOT", "": "ERR", "wrong number of args": "ERR", "Err x": "ERR",
	} {
		assert.Equal(t, want, newError(msg, 400).Prefix, "%q", msg)
	}
	assert.Equal(t, ": ERR bad", errorSuffix([]byte(`{"error":"ERR bad"}`)))
	assert.Equal(t, ": "+strings.Repeat("x", 200), errorSuffix([]byte(`{"error":"`+strings.Repeat("x", 300)+`"}`)))
	assert.Empty(t, errorSuffix([]byte(`not json`)))
	assert.Empty(t, errorSuffix([]byte(`{"result":1}`)))
}

// Options log their token redacted, and say when it is not set.
func TestOptionsLogValue(t *testing.T) {
	assert.Contains(t, Options{URL: "https://x", Token: "s3cret"}.LogValue().String(), "<redacted>")
	assert.NotContains(t, Options{URL: "https://x", Token: "s3cret"}.LogValue().String(), "s3cret")
	assert.Contains(t, Options{URL: "https://x"}.LogValue().String(), "<unset>")
}

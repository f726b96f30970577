package upstash

import (
	"testing"

	"github.com/ai-rails/state-service/shared/restclient"
	"github.com/stretchr/testify/assert"
)

// An error's prefix is its first word when that is an upper-case code
// (WRONGTYPE, NOSCRIPT), else ERR.
func TestErrorPrefixAndSuffix(t *testing.T) {
	for msg, want := range map[string]string{
		"WRONGTYPE Operation against a key": "WRONGTYPE", "NOSCRIPT No matching script": "NOSCRIPT",
		"CROSS_SLOT keys": "CROSS_SLOT", "": "ERR", "wrong number of args": "ERR", "Err x": "ERR",
	} {
		assert.Equal(t, want, newError(msg, 400).Prefix, "%q", msg)
	}
}

// Options log their token redacted, and say when it is not set.
func TestOptionsLogValue(t *testing.T) {
	assert.Contains(t, Options{Options: restclient.Options{URL: "https://x", Token: "s3cret"}}.LogValue().String(), "<redacted>")
	assert.NotContains(t, Options{Options: restclient.Options{URL: "https://x", Token: "s3cret"}}.LogValue().String(), "s3cret")
	assert.Contains(t, Options{Options: restclient.Options{URL: "https://x"}}.LogValue().String(), "<unset>")
}

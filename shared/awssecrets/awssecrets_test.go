package awssecrets_test

import (
	"context"
	"net/http"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/awssecrets"
	"github.com/ai-rails/state-service/shared/awssecrets/secretstest"
)

const arnPlain = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:plain"

func client(t *testing.T) *awssecrets.Client {
	t.Helper()
	c, err := awssecrets.FromEnv(os.LookupEnv)
	require.NoError(t, err)
	return c
}

func TestFetch(t *testing.T) {
	const inJSON = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:json"
	srv := secretstest.Start(t, map[string]string{
		arnPlain: " tok-plain \n", inJSON: `{"token":"tok-json","other":1}`,
		"arn:badjson": `{"token":`, "arn:nofield": `{"x":"y"}`, "arn:empty": "  ",
	})
	api := client(t)
	ctx := context.Background()
	v, err := awssecrets.Fetch(ctx, api, arnPlain, "token")
	require.NoError(t, err)
	assert.Equal(t, "tok-plain", v)
	v, err = awssecrets.Fetch(ctx, api, inJSON, "token")
	require.NoError(t, err)
	assert.Equal(t, "tok-json", v)

	for arn, want := range map[string]string{
		"arn:badjson": "does not parse", "arn:nofield": `no string field "token"`,
		"arn:empty": "is empty", "arn:missing": "ResourceNotFoundException",
	} {
		_, err := awssecrets.Fetch(ctx, api, arn, "token")
		assert.ErrorContains(t, err, want, arn)
		assert.ErrorContains(t, err, arn)
		assert.NotContains(t, err.Error(), "tok-", arn)
		assert.NotContains(t, err.Error(), secretstest.SecretAccessKey, arn)
	}
	assert.EqualValues(t, 6, srv.Requests.Load(), "a client error is not retried")
}

// The signature is SigV4 for the region the ARN names, which the server
// verifies with the SDK's own signer; a name that is not an ARN is signed
// for AWS_REGION.
func TestRegionAndSignature(t *testing.T) {
	const east = "arn:aws:secretsmanager:us-east-2:123456789012:secret:east"
	srv := secretstest.Start(t, map[string]string{east: "e", "plain-name": "p"})
	ctx := context.Background()
	v, err := awssecrets.Fetch(ctx, client(t), east, "token")
	require.NoError(t, err)
	assert.Equal(t, "e", v)
	assert.Equal(t, "us-east-2", srv.Region.Load())
	v, err = awssecrets.Fetch(ctx, client(t), "plain-name", "token")
	require.NoError(t, err)
	assert.Equal(t, "p", v)
	assert.Equal(t, "eu-west-1", srv.Region.Load())

	// Signed with the wrong key, it is refused.
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-key")
	_, err = awssecrets.Fetch(ctx, client(t), east, "token")
	assert.ErrorContains(t, err, "InvalidSignatureException")
	assert.NotContains(t, err.Error(), "not-the-key")

	// Without a region anywhere, a bare name cannot be read.
	t.Setenv("AWS_REGION", "")
	_, err = awssecrets.Fetch(ctx, client(t), "plain-name", "token")
	assert.ErrorContains(t, err, "no region")
}

func TestCredentialsAreRequired(t *testing.T) {
	secretstest.Start(t, nil)
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	_, err := awssecrets.FromEnv(os.LookupEnv)
	assert.ErrorContains(t, err, "AWS_ACCESS_KEY_ID")
}

// Server errors and throttles are retried, up to Attempts; client errors
// are not.
func TestRetries(t *testing.T) {
	srv := secretstest.Start(t, map[string]string{arnPlain: "tok"})
	ctx := context.Background()
	srv.Fail = func(n int64) int {
		if n <= awssecrets.Attempts-1 {
			return http.StatusServiceUnavailable
		}
		return 0
	}
	v, err := awssecrets.Fetch(ctx, client(t), arnPlain, "token")
	require.NoError(t, err)
	assert.Equal(t, "tok", v)
	assert.EqualValues(t, awssecrets.Attempts, srv.Requests.Load())

	srv.Requests.Store(0)
	srv.Fail = func(int64) int { return http.StatusTooManyRequests }
	_, err = awssecrets.Fetch(ctx, client(t), arnPlain, "token")
	assert.ErrorContains(t, err, "(429)")
	assert.EqualValues(t, awssecrets.Attempts, srv.Requests.Load())

	srv.Requests.Store(0)
	srv.Fail = nil
	srv.Close() // the connection is refused: retried, then reported
	_, err = awssecrets.Fetch(ctx, client(t), arnPlain, "token")
	assert.ErrorContains(t, err, arnPlain)
}

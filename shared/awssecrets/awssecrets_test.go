package awssecrets_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/awssecrets"
)

// fakeSecretsManager answers GetSecretValue over the real AWS JSON protocol,
// which the real SDK client speaks to it.
func fakeSecretsManager(t *testing.T, secrets map[string]string) *secretsmanager.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "secretsmanager.GetSecretValue", r.Header.Get("X-Amz-Target"))
		assert.Contains(t, r.Header.Get("Authorization"), "AWS4-HMAC-SHA256", "the request is signed")
		body, _ := io.ReadAll(r.Body)
		var in struct{ SecretId string }
		require.NoError(t, json.Unmarshal(body, &in))
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		v, ok := secrets[in.SecretId]
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"ARN": in.SecretId, "Name": "n", "SecretString": v})
	}))
	t.Cleanup(srv.Close)
	t.Setenv("AWS_CA_BUNDLE", "")
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("eu-west-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")),
	)
	require.NoError(t, err)
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.RetryMaxAttempts = 1
	})
}

func TestFetch(t *testing.T) {
	const plain, inJSON = "arn:plain", "arn:json"
	api := fakeSecretsManager(t, map[string]string{
		plain: " tok-plain \n", inJSON: `{"token":"tok-json","other":1}`,
		"arn:badjson": `{"token":`, "arn:nofield": `{"x":"y"}`, "arn:empty": "  ",
	})
	ctx := context.Background()
	v, err := awssecrets.Fetch(ctx, api, plain, "token")
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
	}
}

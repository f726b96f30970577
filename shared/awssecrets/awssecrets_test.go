package awssecrets_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/awssecrets"
	"github.com/ai-rails/state-service/shared/awssecrets/secretstest"
)

func client(t *testing.T, url string) *secretsmanager.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion("eu-west-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")),
	)
	require.NoError(t, err)
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		o.BaseEndpoint = aws.String(url)
		o.RetryMaxAttempts = 1
	})
}

func TestFetch(t *testing.T) {
	const plain, inJSON = "arn:plain", "arn:json"
	srv := secretstest.Start(t, map[string]string{
		plain: " tok-plain \n", inJSON: `{"token":"tok-json","other":1}`,
		"arn:badjson": `{"token":`, "arn:nofield": `{"x":"y"}`, "arn:empty": "  ",
	})
	api := client(t, srv.URL)
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
		assert.NotContains(t, err.Error(), "tok-", arn)
	}
}

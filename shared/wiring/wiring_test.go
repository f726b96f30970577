package wiring

import (
	"bytes"
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/access"
	"github.com/ai-rails/state-service/shared/awssecrets/secretstest"
	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/failures"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
	"github.com/ai-rails/state-service/shared/upstashvector/vectorserver"
	"github.com/ai-rails/state-service/shared/webhook"
)

func TestBackendOf(t *testing.T) {
	assert.Equal(t, "upstash", backendOf("https://eu1-x.upstash.io"))
	assert.Equal(t, "local", backendOf("http://127.0.0.1:8079"))
}

func TestBuild(t *testing.T) {
	b := upstashtest.Mini(t)
	cfg, err := config.Read(config.MapLookup(map[string]string{
		"UPSTASH_REDIS_REST_URL": b.URL, "UPSTASH_REDIS_REST_TOKEN": upstashtest.Token, "KEY_PREFIX": "t_",
		"AWS_LAMBDA_FUNCTION_NAME": "ai-rails-prod-workflow", "BACKUP_BUCKET": "b", "API_KEY": "k",
	}), false)
	require.NoError(t, err)
	var out bytes.Buffer
	svc, err := Build(context.Background(), cfg, Options{Function: "workflow", Out: &out, EMF: true})
	require.NoError(t, err)
	assert.Equal(t, "t_", svc.Keys.Prefix())
	assert.Equal(t, "ai-rails-prod-workflow", svc.HTTP.Function, "Lambda's name wins")
	assert.Equal(t, "local", svc.HTTP.Backend)
	require.NotNil(t, svc.Keyring)
	assert.Equal(t, []access.Client{{Name: access.Default, Scopes: []access.Scope{access.All}}}, svc.Keyring.Clients())
	assert.Same(t, svc.Client, svc.Services.Health)
	assert.Same(t, svc.Approvals, svc.Services.Approvals)
	assert.NotNil(t, svc.Sweeper)
	assert.NotNil(t, svc.HTTP.EMF)
	assert.Equal(t, "s3://b/backups", svc.Config.Backup.Location())
	_, err = svc.Client.Do(context.Background(), "PING")
	require.NoError(t, err)

	_, err = Build(context.Background(), cfg, Options{Webhooks: true})
	assert.ErrorContains(t, err, "WEBHOOK_SECRET", "webhooks need their secret")
	cfg.Store.URL = ""
	_, err = Build(context.Background(), cfg, Options{})
	assert.ErrorContains(t, err, "UPSTASH_REDIS_REST_URL")
	assert.NotContains(t, out.String(), upstashtest.Token)
}

// In AWS, the store token and the webhook secret come from Secrets Manager,
// read once, through the real SDK.
func TestBuildFetchesSecrets(t *testing.T) {
	b := upstashtest.Mini(t)
	const tokenARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:upstash-token"
	const hookARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:webhook"
	const linkARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:approval-links"
	secretstest.Start(t, map[string]string{tokenARN: `{"token":"` + upstashtest.Token + `"}`, hookARN: "whsec-from-aws", linkARN: "links-from-aws"})

	cfg, err := config.Read(config.MapLookup(map[string]string{
		"UPSTASH_REDIS_REST_URL": b.URL, "UPSTASH_REDIS_REST_TOKEN_SECRET_ARN": tokenARN, "WEBHOOK_SECRET_SECRET_ARN": hookARN,
		"APPROVAL_LINK_SECRET_ARN": linkARN,
	}), false)
	require.NoError(t, err)
	svc, err := Build(context.Background(), cfg, Options{Webhooks: true})
	require.NoError(t, err)
	assert.Equal(t, "whsec-from-aws", svc.Config.Approvals.WebhookSecret)
	assert.Equal(t, "links-from-aws", svc.Config.Approvals.LinkSecret)
	assert.NotContains(t, svc.Config.Approvals.String(), "links-from-aws")
	_, err = svc.Client.Do(context.Background(), "PING")
	require.NoError(t, err, "the fetched token opens the store")

	cfg.Approvals.WebhookSecretARN = hookARN + "-gone"
	_, err = Build(context.Background(), cfg, Options{Webhooks: true})
	assert.ErrorContains(t, err, "ResourceNotFoundException")
	cfg.Approvals.WebhookSecretARN, cfg.Approvals.LinkSecretARN = hookARN, linkARN+"-gone"
	_, err = Build(context.Background(), cfg, Options{Webhooks: true})
	assert.ErrorContains(t, err, "ResourceNotFoundException")
	cfg.Approvals.LinkSecretARN, cfg.Store.TokenSecretARN = linkARN, tokenARN+"-gone"
	_, err = Build(context.Background(), cfg, Options{Webhooks: true})
	assert.ErrorContains(t, err, "ResourceNotFoundException")
}

// The vector index's token comes from Secrets Manager as the store's does,
// and opens the index.
func TestBuildFetchesTheVectorToken(t *testing.T) {
	b := upstashtest.Mini(t)
	const vectorARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:upstash-vector-token"
	secretstest.Start(t, map[string]string{vectorARN: `{"token":"vector-from-aws"}`})
	vs, err := vectorserver.New(vectorserver.Options{Token: "vector-from-aws", Dimension: failures.Dimension})
	require.NoError(t, err)
	hs := httptest.NewServer(vs)
	defer hs.Close()

	cfg, err := config.Read(config.MapLookup(map[string]string{
		"UPSTASH_REDIS_REST_URL": b.URL, "UPSTASH_REDIS_REST_TOKEN": upstashtest.Token,
		"UPSTASH_VECTOR_REST_URL": hs.URL, "UPSTASH_VECTOR_REST_TOKEN_SECRET_ARN": vectorARN,
	}), false)
	require.NoError(t, err)
	svc, err := Build(context.Background(), cfg, Options{})
	require.NoError(t, err)
	assert.Equal(t, "vector-from-aws", svc.Config.Memory.VectorToken)
	assert.NotContains(t, svc.Config.Memory.String(), "vector-from-aws")
	require.NotNil(t, svc.Index)
	_, err = svc.Index.Query(context.Background(), "KeyError: 'user_id'", 1)
	require.NoError(t, err, "the fetched token opens the index")

	cfg.Memory.VectorTokenSecretARN = vectorARN + "-gone"
	_, err = Build(context.Background(), cfg, Options{})
	assert.ErrorContains(t, err, "ResourceNotFoundException")
}

// An entry point may replace the callback guard and the webhook backoff.
func TestBuildOptions(t *testing.T) {
	b := upstashtest.Mini(t)
	cfg := config.Config{Store: config.Store{URL: b.URL, Token: upstashtest.Token}, LogLevel: "loud"}
	_, err := Build(context.Background(), cfg, Options{})
	assert.Error(t, err, "a bad log level")
	cfg.LogLevel = "info"
	guard := &webhook.Guard{AllowInsecureLoopback: true}
	svc, err := Build(context.Background(), cfg, Options{Guard: guard, WebhookBackoff: time.Millisecond, Backend: "redis"})
	require.NoError(t, err)
	assert.Same(t, guard, svc.Guard)
	assert.Equal(t, "redis", svc.HTTP.Backend)
	// Options.Client edits the client's options before it is made.
	svc, err = Build(context.Background(), cfg, Options{Client: func(o *upstash.Options) { o.URL = "ftp://nowhere" }})
	assert.ErrorContains(t, err, "ftp", "the edited options are the ones used")
	assert.Nil(t, svc)
	cfg.Store.KeyPrefix = "bad prefix"
	_, err = Build(context.Background(), cfg, Options{})
	assert.Error(t, err)
}

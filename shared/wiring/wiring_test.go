package wiring

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
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
	assert.Equal(t, "ai-rails-prod-workflow", svc.Deps.Function, "Lambda's name wins")
	assert.Equal(t, "local", svc.Deps.Backend)
	assert.Equal(t, "k", svc.Deps.APIKey)
	assert.Same(t, svc.Client, svc.Deps.Store)
	assert.NotNil(t, svc.Sweeper)
	assert.NotNil(t, svc.Deps.EMF)
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

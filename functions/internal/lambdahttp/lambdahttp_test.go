package lambdahttp

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/config"

	"github.com/ai-rails/state-service/shared/awssecrets/secretstest"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
)

func getHealth(t *testing.T, h http.Handler) map[string]any {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/api/health", nil))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var body map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	return body
}

func TestHandlerWithTokenInEnv(t *testing.T) {
	b := upstashtest.Mini(t)
	var logs bytes.Buffer
	h, err := Handler(context.Background(), config.MapLookup(map[string]string{
		"UPSTASH_REDIS_REST_URL": b.URL, "UPSTASH_REDIS_REST_TOKEN": upstashtest.Token,
	}), &logs, Function{Name: "workflow"})
	require.NoError(t, err)
	assert.Equal(t, "local", getHealth(t, h)["store"].(map[string]any)["backend"], "a loopback store is the local stack")
	assert.NotContains(t, logs.String(), upstashtest.Token)
}

func TestHandlerReadsTokenFromSecretsManager(t *testing.T) {
	b := upstashtest.Mini(t)
	const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:upstash-token"
	secretstest.Start(t, map[string]string{arn: `{"token":"` + upstashtest.Token + `"}`})

	var logs bytes.Buffer
	h, err := Handler(context.Background(), config.MapLookup(map[string]string{
		"UPSTASH_REDIS_REST_URL": b.URL, "UPSTASH_REDIS_REST_TOKEN_SECRET_ARN": arn,
	}), &logs, Function{Name: "workflow"})
	require.NoError(t, err)
	assert.Equal(t, "healthy", getHealth(t, h)["status"])
	assert.NotContains(t, logs.String(), upstashtest.Token)

	_, err = Handler(context.Background(), config.MapLookup(map[string]string{
		"UPSTASH_REDIS_REST_URL": b.URL, "UPSTASH_REDIS_REST_TOKEN_SECRET_ARN": arn + "-gone",
	}), &logs, Function{Name: "workflow"})
	assert.ErrorContains(t, err, "ResourceNotFoundException")
}

func TestHandlerConfigErrors(t *testing.T) {
	for name, env := range map[string]map[string]string{
		"no URL":        {"UPSTASH_REDIS_REST_TOKEN": "t"},
		"plain http":    {"UPSTASH_REDIS_REST_URL": "http://example.com", "UPSTASH_REDIS_REST_TOKEN": "t"},
		"bad prefix":    {"UPSTASH_REDIS_REST_URL": "https://x.upstash.io", "UPSTASH_REDIS_REST_TOKEN": "t", "KEY_PREFIX": "a b"},
		"bad log level": {"UPSTASH_REDIS_REST_URL": "https://x.upstash.io", "UPSTASH_REDIS_REST_TOKEN": "t", "LOG_LEVEL": "loud"},
	} {
		_, err := Handler(context.Background(), config.MapLookup(env), &bytes.Buffer{}, Function{Name: "workflow"})
		assert.Error(t, err, name)
	}
}

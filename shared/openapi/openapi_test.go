package openapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/openapi"
	"github.com/ai-rails/state-service/shared/webhook"
)

func TestDocumentLoads(t *testing.T) {
	doc, err := openapi.Load()
	require.NoError(t, err)
	assert.Equal(t, "3.1.0", doc.OpenAPI)
	for _, p := range []string{"/api/workflow/state", "/api/workflow/state/{workflow_id}", "/api/workflow/state/{workflow_id}/history",
		"/api/lock/{resource_id}", "/api/approval", "/api/approval/{approval_id}", "/api/approval/{approval_id}/decision",
		"/api/approval/{approval_id}/audit", "/api/results", "/api/results/{test_id}", "/api/health", "/api/metrics"} {
		assert.NotNil(t, doc.Paths.Find(p), p)
	}
	w := httptest.NewRecorder()
	openapi.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/api/openapi.json", nil))
	assert.Equal(t, http.StatusOK, w.Code)
	var m map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &m))
	assert.Equal(t, "3.1.0", m["openapi"])
	assert.NotEmpty(t, openapi.YAML())
}

func TestValidatorCatchesDrift(t *testing.T) {
	v, err := openapi.NewValidator()
	require.NoError(t, err)
	r := httptest.NewRequest("GET", "/api/health", nil)
	h := http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}, "X-Request-Id": {"r"}}
	good := `{"status":"healthy","store":{"backend":"local","latency_ms":0.5,"keys":3,"circuit":"closed"},"version":"dev"}`
	assert.NoError(t, v.Check(r, 200, h, []byte(good)))
	assert.Error(t, v.Check(r, 200, h, []byte(`{"status":"healthy"}`)), "a missing member")
	assert.Error(t, v.Check(r, 200, h, []byte(`{"status":"healthy","store":{"backend":"local","latency_ms":0.5,"keys":3,"circuit":"closed"},"version":"dev","extra":1}`)), "an undocumented member")
	assert.Error(t, v.Check(r, 418, h, []byte(`{}`)), "an undocumented status")
	assert.ErrorIs(t, v.Check(httptest.NewRequest("GET", "/nowhere", nil), 404, h, nil), openapi.ErrNoRoute)
}

// The document describes what the service POSTs, with the headers the
// deliverer sets: the Standard Webhooks ones, the callback JWT, and the old
// signature, deprecated.
func TestDocumentDescribesTheWebhook(t *testing.T) {
	doc, err := openapi.Load()
	require.NoError(t, err)
	hook := doc.Webhooks["approvalEvent"]
	require.NotNil(t, hook)
	require.NotNil(t, hook.Post)
	headers := map[string]bool{}
	for _, p := range hook.Post.Parameters {
		assert.Equal(t, "header", p.Value.In)
		headers[p.Value.Name] = p.Value.Deprecated
	}
	for _, h := range []string{webhook.HeaderWebhookID, webhook.HeaderWebhookTimestamp, webhook.HeaderWebhookSignature, "Authorization", webhook.HeaderEvent, webhook.HeaderDelivery} {
		deprecated, ok := headers[h]
		assert.True(t, ok, h)
		assert.False(t, deprecated, h)
	}
	assert.True(t, headers[webhook.HeaderSignature], "the old signature is deprecated")
	events := hook.Post.RequestBody.Value.Content["application/json"].Schema.Value.Properties["event"].Value.Enum
	assert.ElementsMatch(t, []any{"approval.decided", "approval.expired", "approval.reminder", "approval.requested"}, events)
}

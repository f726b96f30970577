package servicetest_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ai-rails/state-service/shared/servicetest"
)

func TestCheckContract(t *testing.T) {
	r := httptest.NewRequest("GET", "/api/workflow/state/ABC-123456", nil)
	h := http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}, "Etag": {`"1"`}}
	assert.Error(t, servicetest.CheckContract(r, 200, h, []byte(`{"workflow_id":"ABC-123456"}`)), "missing members")
	ph := http.Header{"Content-Type": {"application/problem+json"}}
	assert.NoError(t, servicetest.CheckContract(r, 404, ph, []byte(`{"type":"urn:ai-rails:problem:not-found","title":"Not found","status":404}`)))
	assert.Error(t, servicetest.CheckContract(r, 404, ph, []byte(`{"type":"urn:ai-rails:problem:lost","title":"Not found","status":404}`)), "unknown slug")
	assert.Error(t, servicetest.CheckContract(r, 409, ph, []byte(`{"type":"urn:ai-rails:problem:conflict","title":"x","status":409}`)), "undocumented status")
	assert.NoError(t, servicetest.CheckContract(httptest.NewRequest("GET", "/elsewhere", nil), 404, ph, nil), "no operation, nothing to check")
}

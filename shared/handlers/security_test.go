package handlers_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/routes"
	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
	"github.com/ai-rails/state-service/shared/wiring"
)

// sample fills a route's path parameters with valid ids.
var sample = strings.NewReplacer("{workflow_id}", "ABC-123456", "{resource_id}", "r",
	"{approval_id}", "3f0c6a8e-5b7d-4c1e-9a2b-1d2e3f4a5b6c", "{test_id}", "run-1")

// everyRoute is one request per route of the route table.
func everyRoute() []servicetest.Req {
	var out []servicetest.Req
	for _, r := range routes.Table {
		req := servicetest.Req{Method: r.Method, Path: sample.Replace(r.Path)}
		if r.Method == "POST" || r.Method == "PUT" || r.Method == "PATCH" {
			req.Body = `{}`
		}
		out = append(out, req)
	}
	return out
}

func TestEveryRouteNeedsTheKey(t *testing.T) {
	e := servicetest.New(t, upstashtest.Mini(t))
	for i, r := range everyRoute() {
		if routes.Table[i].Public {
			// The approval page takes no key: its link is the credential.
			a := e.Do(r)
			assert.NotContains(t, string(a.Raw), "x-api-key", "%s %s: the page's own answer, not the key's refusal", r.Method, r.Path)
			continue
		}
		for _, key := range []string{"", "wrong", servicetest.APIKey + " ", strings.ToUpper(servicetest.APIKey)} {
			r.Header = map[string]string{"x-api-key": key}
			before := e.Client.Stats().RoundTrips
			a := e.Do(r)
			assert.Equal(t, http.StatusForbidden, a.Status, "%s %s with key %q", r.Method, r.Path, key)
			assert.Equal(t, "urn:ai-rails:problem:forbidden", a.Body["type"])
			assert.Equal(t, before, e.Client.Stats().RoundTrips, "refused before the store")
		}
	}
}

// TestInjectionIDsNeverReachTheStore sends ids with characters that mean
// something to Redis patterns, to keys or to HTTP, and checks each gets 400
// without one store round trip.
func TestInjectionIDsNeverReachTheStore(t *testing.T) {
	e := servicetest.New(t, upstashtest.Mini(t))
	bad := []string{"ABC-12345*", "ABC-?23456", "[ABC]-123456", "ABC 123456", "ABC-123456\n", "ÄBC-123456", "ABC-123456\r\nX: y",
		"*", "../../etc", "a\x00b", "ai_rails_*", "ABC-１２３４５６"}
	for _, id := range bad {
		esc := url.PathEscape(id)
		for _, r := range []servicetest.Req{
			{Method: "GET", Path: "/api/workflow/state/" + esc},
			{Method: "PATCH", Path: "/api/workflow/state/" + esc, Body: `{}`},
			{Method: "DELETE", Path: "/api/workflow/state/" + esc},
			{Method: "GET", Path: "/api/workflow/state/" + esc + "/history"},
			{Method: "POST", Path: "/api/lock/" + esc, Body: `{"owner":"a"}`},
			{Method: "GET", Path: "/api/approval/" + esc},
			{Method: "GET", Path: "/api/results/" + esc},
			{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": id, "feature_description": "x"}},
			{Method: "POST", Path: "/api/results", Body: map[string]any{"test_id": id, "workflow_id": "ABC-123456", "test_suite": "u",
				"passed": 1, "failed": 0, "skipped": 0, "duration_seconds": 1}},
			{Method: "GET", Path: "/api/approval?workflow_id=" + url.QueryEscape(id)},
		} {
			before := e.Client.Stats().RoundTrips
			a := e.Do(r)
			if a.Status == http.StatusNotFound && a.Body["type"] == "urn:ai-rails:problem:not-found" && before == e.Client.Stats().RoundTrips {
				continue // the router refused the path (a newline, say) before any handler
			}
			assert.Equal(t, http.StatusBadRequest, a.Status, "%s %s: %s", r.Method, r.Path, a.Raw)
			assert.Equal(t, before, e.Client.Stats().RoundTrips, "%q reached the store through %s %s", id, r.Method, r.Path)
		}
	}
}

func TestCallbackHeaderInjection(t *testing.T) {
	e := servicetest.New(t, upstashtest.Mini(t))
	e.Do(servicetest.Req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": "ABC-123456", "feature_description": "x"}})
	for _, u := range []string{
		"https://n8n.example.com/hook\r\nX-Injected: 1", "https://n8n.example.com/hook%0d%0aX-Injected:%201",
		"https://n8n.example.com\r\n/hook", "javascript:alert(1)", "https://[::1]:443/", "//n8n.example.com/hook",
	} {
		before := e.Snapshot()
		a := e.Do(servicetest.Req{Method: "POST", Path: "/api/approval", Body: map[string]any{"workflow_id": "ABC-123456",
			"request_type": "deploy", "content": "c", "requester": "r", "callback_url": u}})
		if a.Status == http.StatusCreated {
			// A %0d%0a in a path is data, not a header: it must stay escaped.
			assert.NotContains(t, a.Body["callback_url"], "\r", u)
			assert.NotContains(t, a.Body["callback_url"], "\n", u)
			continue
		}
		assert.Equal(t, http.StatusBadRequest, a.Status, "%s: %s", u, a.Raw)
		assert.Equal(t, before, e.Snapshot(), u)
	}
}

func TestNestedAndOversizedBodiesAreRefusedCheaply(t *testing.T) {
	e := servicetest.New(t, upstashtest.Mini(t))
	deep := strings.Repeat(`{"a":`, 20000) + "1" + strings.Repeat("}", 20000)
	for _, r := range []servicetest.Req{
		{Method: "POST", Path: "/api/workflow/state", Body: `{"workflow_id":"ABC-123456","feature_description":"x","metadata":` + deep + `}`},
		{Method: "POST", Path: "/api/results", Body: deep},
		{Method: "POST", Path: "/api/approval", Body: strings.Repeat("[", 100000)},
	} {
		before := e.Client.Stats().RoundTrips
		a := e.Do(r)
		assert.Contains(t, []int{400, 413}, a.Status, "%s %s", r.Method, r.Path)
		assert.Equal(t, before, e.Client.Stats().RoundTrips)
	}
	a := e.Do(servicetest.Req{Method: "POST", Path: "/api/workflow/state", Body: `{"feature_description":"` + strings.Repeat("x", 1<<20) + `"}`})
	assert.Equal(t, http.StatusRequestEntityTooLarge, a.Status)
}

// TestSecretsStayOutOfLogsAndAnswers captures every log line and answer
// while webhooks are signed and fail, and while the store is down, and
// checks that neither the REST token nor the webhook secret shows.
func TestSecretsStayOutOfLogsAndAnswers(t *testing.T) {
	const webhookSecret = "whsec-very-secret-value"
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	prev := slog.Default()
	slog.SetDefault(logger) // the client and REST server log here
	t.Cleanup(func() { slog.SetDefault(prev) })

	b := upstashtest.Real(t)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer receiver.Close()
	e := servicetest.NewWith(t, b, func(c *config.Config, o *wiring.Options) {
		o.Logger = logger
		c.Approvals.WebhookSecret, c.Approvals.WebhookBudget = webhookSecret, 500*time.Millisecond
	})
	var answers bytes.Buffer
	do := func(r servicetest.Req) servicetest.Answer {
		a := e.Do(r)
		answers.Write(a.Raw)
		for k, v := range a.Header {
			answers.WriteString(k + ": " + strings.Join(v, ",") + "\n")
		}
		return a
	}
	do(servicetest.Req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": "ABC-123456", "feature_description": "x"}})
	created := do(servicetest.Req{Method: "POST", Path: "/api/approval", Body: map[string]any{"workflow_id": "ABC-123456", "request_type": "deploy",
		"content": "c", "requester": "r", "callback_url": receiver.URL}})
	require.Equal(t, http.StatusCreated, created.Status, "%s", created.Raw)
	decided := do(servicetest.Req{Method: "POST", Path: "/api/approval/" + created.Body["approval_id"].(string) + "/decision",
		Body: map[string]any{"decision": "approved", "approver": "a"}})
	require.Equal(t, http.StatusOK, decided.Status)
	audit := do(servicetest.Req{Method: "GET", Path: "/api/approval/" + created.Body["approval_id"].(string) + "/audit"})
	assert.Contains(t, string(audit.Raw), "webhook_failed", "the signed webhook was sent, and failed")
	for _, r := range everyRoute() {
		do(r)
	}
	b.Redis.Stop() // the store goes away: errors everywhere
	for _, r := range everyRoute() {
		do(r)
	}
	out := logs.String() + answers.String()
	assert.NotContains(t, out, upstashtest.Token)
	assert.NotContains(t, out, webhookSecret)
	assert.Contains(t, logs.String(), "request failed", "the failures were logged")
}

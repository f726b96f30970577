package lambdahttp

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/webhook"
)

// runMCPEvents sends events/mcp/*.json, as sam local would: initialize,
// tools/list, and two tool calls.
func runMCPEvents(t *testing.T, invoke func(raw []byte) events.APIGatewayProxyResponse) {
	t.Helper()
	s := &eventSender{t: t, invoke: invoke, dir: "mcp", replace: map[string]string{}}
	var rpc map[string]any
	init := s.send("initialize", 200)
	require.NoError(t, json.Unmarshal([]byte(init.Body), &rpc))
	assert.Equal(t, "ai-rails-state", rpc["result"].(map[string]any)["serverInfo"].(map[string]any)["name"])
	list := s.send("tools-list", 200)
	for _, name := range []string{"workflow_get", "approval_wait", "failures_similar"} {
		assert.Contains(t, list.Body, `"name":"`+name+`"`)
	}
	get := s.send("workflow-get", 200)
	assert.Contains(t, get.Body, `"workflow_id\":\"ABC-123456\"`)
	wait := s.send("approval-wait", 200)
	assert.Contains(t, wait.Body, `"isError":true`, "the sample approval does not exist")
	assert.Contains(t, wait.Body, `not-found`)
}

// gateway is API Gateway in front of the emulator: it turns each HTTP
// request into a REST API proxy event, invokes the function, and answers
// what it answered, so that an MCP client can talk to the built function.
func gateway(t *testing.T, invokeURL string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev := events.APIGatewayProxyRequest{Resource: r.URL.Path, Path: r.URL.Path, HTTPMethod: r.Method, Body: string(body),
			Headers: map[string]string{}, MultiValueHeaders: map[string][]string{},
			RequestContext: events.APIGatewayProxyRequestContext{Stage: "prod", HTTPMethod: r.Method, ResourcePath: r.URL.Path,
				RequestID: "gw-" + time.Now().Format("150405.000000"), Identity: events.APIGatewayRequestIdentity{SourceIP: "203.0.113.10"}}}
		for k, v := range r.Header {
			ev.Headers[k] = v[0]
			ev.MultiValueHeaders[k] = v
		}
		raw, err := json.Marshal(ev)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out := invoke(t, invokeURL, raw)
		for k, v := range out.Headers {
			w.Header().Set(k, v)
		}
		for k, vs := range out.MultiValueHeaders {
			w.Header()[k] = vs
		}
		w.WriteHeader(out.StatusCode)
		_, _ = w.Write([]byte(out.Body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// notifyReceiver is the operator's notification endpoint.
type notifyReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	events []map[string]any
}

func newNotifyReceiver(t *testing.T) *notifyReceiver {
	n := &notifyReceiver{}
	n.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var p map[string]any
		_ = json.Unmarshal(raw, &p)
		if webhook.Verify([]byte(servicetest.WebhookSecret), raw, r.Header.Get(webhook.HeaderSignature)) {
			n.mu.Lock()
			n.events = append(n.events, p)
			n.mu.Unlock()
		}
	}))
	t.Cleanup(n.Close)
	return n
}

type apiKey string

func (k apiKey) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("x-api-key", string(k))
	return http.DefaultTransport.RoundTrip(r)
}

// runMCPClient drives the built function with the official Go SDK's
// client, through the gateway: it asks for an approval, sees the link go
// to the notification endpoint and not to itself, and waits.
func runMCPClient(t *testing.T, base string, notify *notifyReceiver) {
	t.Helper()
	ctx := context.Background()
	c := mcp.NewClient(&mcp.Implementation{Name: "rie-test", Version: "1"}, nil)
	s, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base + "/mcp", DisableStandaloneSSE: true,
		HTTPClient: &http.Client{Transport: apiKey("sample-api-key"), Timeout: 30 * time.Second}}, nil)
	require.NoError(t, err)
	defer s.Close()
	tools, err := s.ListTools(ctx, nil)
	require.NoError(t, err)
	assert.Len(t, tools.Tools, 9)

	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: "approval_request", Arguments: map[string]any{"workflow_id": "ABC-123456",
		"request_type": "deploy", "content": "Deploy build 42", "requester": "agent-7", "approvers": []string{"alice"}}})
	require.NoError(t, err)
	text := res.Content[0].(*mcp.TextContent).Text
	require.False(t, res.IsError, text)
	assert.NotContains(t, text, "/approve/", "the agent never sees a link")
	var a map[string]any
	require.NoError(t, json.Unmarshal([]byte(text), &a))
	notify.mu.Lock()
	require.Len(t, notify.events, 1)
	links := notify.events[0]["links"].(map[string]any)
	notify.mu.Unlock()
	assert.True(t, strings.HasPrefix(links["alice"].(string), "https://api.example.com/approve/"))

	res, err = s.CallTool(ctx, &mcp.CallToolParams{Name: "approval_wait", Arguments: map[string]any{"approval_id": a["approval_id"], "timeout_seconds": 1}})
	require.NoError(t, err)
	var w map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.Content[0].(*mcp.TextContent).Text), &w))
	assert.Equal(t, false, w["final"])
	assert.EqualValues(t, 1000, w["poll_after_ms"])
}

package lambdahttp

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/failures"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/redisstore"
	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
	"github.com/ai-rails/state-service/shared/upstashvector/vectorserver"
	"github.com/ai-rails/state-service/shared/workflow"
)

// fixtureToken is the Lock-Token of events/workflow/lock-extend.json and
// lock-release.json.
const fixtureToken = "0123456789abcdef0123456789abcdef"

func loadEvent(t *testing.T, name string) (events.APIGatewayProxyRequest, []byte) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(moduleRoot(t), "..", "events", name))
	require.NoError(t, err)
	var ev events.APIGatewayProxyRequest
	require.NoError(t, json.Unmarshal(raw, &ev), name)
	return ev, raw
}

// header reads a header of an answer, which the adapter puts in
// multiValueHeaders.
func header(out events.APIGatewayProxyResponse, name string) string {
	if v := out.MultiValueHeaders[http.CanonicalHeaderKey(name)]; len(v) > 0 {
		return v[0]
	}
	return out.Headers[name]
}

// eventSender sends the sample events of one folder of events/ through
// invoke, checks each answer's status, request id and contract, and
// replaces the sample ids with real ones first.
type eventSender struct {
	t       *testing.T
	invoke  func(raw []byte) events.APIGatewayProxyResponse
	dir     string            // "workflow", "approval", "results"
	replace map[string]string // sample id to real id
}

func (s *eventSender) send(name string, want int) events.APIGatewayProxyResponse {
	t := s.t
	t.Helper()
	ev, raw := loadEvent(t, s.dir+"/"+name+".json")
	for from, to := range s.replace {
		raw = []byte(strings.ReplaceAll(string(raw), from, to))
		ev.Path = strings.ReplaceAll(ev.Path, from, to)
	}
	out := s.invoke(raw)
	require.Equal(t, want, out.StatusCode, "%s: %s", name, out.Body)
	prefix := "sample-" + s.dir + "-"
	if s.dir == "workflow" {
		prefix = "sample-"
	}
	assert.Equal(t, prefix+name, header(out, "X-Request-Id"), name)
	target := ev.Path
	if len(ev.QueryStringParameters) > 0 {
		q := url.Values{}
		for k, v := range ev.QueryStringParameters {
			q.Set(k, v)
		}
		target += "?" + q.Encode()
	}
	h := http.Header{}
	for k, v := range out.MultiValueHeaders {
		h[http.CanonicalHeaderKey(k)] = v
	}
	assert.NoError(t, servicetest.CheckContract(httptest.NewRequest(ev.HTTPMethod, target, nil), out.StatusCode, h, []byte(out.Body)), name)
	return out
}

// runWorkflowEvents sends the sample events of the workflow function in a
// realistic order, checks each answer's status and its contract, and
// returns the answers by event name.
func runWorkflowEvents(t *testing.T, invoke func(raw []byte) events.APIGatewayProxyResponse, b *upstashtest.Backend) map[string]events.APIGatewayProxyResponse {
	t.Helper()
	answers := map[string]events.APIGatewayProxyResponse{}
	s := &eventSender{t: t, invoke: invoke, dir: "workflow"}
	send := func(name string, want int) events.APIGatewayProxyResponse {
		t.Helper()
		out := s.send(name, want)
		answers[name] = out
		return out
	}
	send("save-create", 201)
	send("get", 200)
	send("save-update", 200)
	send("patch", 200)
	list := send("list", 200)
	assert.Contains(t, list.Body, `"workflow_id":"ABC-123456"`)
	send("history", 200)
	send("lock-acquire", 201)
	send("lock-extend", 409) // the fixture's token is not the holder's
	rid, _ := keys.ParseResourceID("deploy:prod")
	c := b.Client(t, upstash.Options{})
	_, err := c.Do(context.Background(), "SET", keys.Default().Lock(rid), fixtureToken, "PX", 60000)
	require.NoError(t, err)
	send("lock-extend", 200)
	send("lock-release", 204)
	send("metrics", 200)
	send("delete", 204)
	send("get", 404)
	return answers
}

// sampleApprovalID is the approval id in events/approval/*.json, which the
// test replaces with the id the create answered.
const sampleApprovalID = "3f0c6a8e-5b7d-4c1e-9a2b-1d2e3f4a5b6c"

// runApprovalEvents sends the sample events of the approval function in
// order, for workflow ABC-123456, which must exist.
func runApprovalEvents(t *testing.T, invoke func(raw []byte) events.APIGatewayProxyResponse) {
	t.Helper()
	s := &eventSender{t: t, invoke: invoke, dir: "approval", replace: map[string]string{}}
	send := s.send
	created := send("create", 201)
	var a map[string]any
	require.NoError(t, json.Unmarshal([]byte(created.Body), &a))
	id := a["approval_id"].(string)
	s.replace[sampleApprovalID] = id
	replay := send("create", 201)
	assert.Equal(t, created.Body, replay.Body, "the Idempotency-Key replays the first answer")
	send("get", 200)
	list := send("list", 200)
	assert.Contains(t, list.Body, id)
	decided := send("decide", 200)
	assert.Contains(t, decided.Body, `"status":"approved"`)
	audit := send("audit", 200)
	for _, typ := range []string{`"created"`, `"decided"`, `"webhook_failed"`} {
		assert.Contains(t, audit.Body, typ, "nobody listens on localhost:5678, so the webhook failed and waits in the outbox")
	}
}

// TestWorkflowEventsInProcess feeds events/workflow/*.json through the same
// adapter Lambda uses, in this process, over both backends.
func TestWorkflowEventsInProcess(t *testing.T) {
	for _, b := range upstashtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			h, err := Handler(context.Background(), config.MapLookup(map[string]string{
				"UPSTASH_REDIS_REST_URL": b.URL, "UPSTASH_REDIS_REST_TOKEN": upstashtest.Token, "METRICS_FLUSH_INTERVAL": "1ms",
			}), &discard{}, Functions["workflow"])
			require.NoError(t, err)
			adapter := httpadapter.New(h)
			answers := runWorkflowEvents(t, func(raw []byte) events.APIGatewayProxyResponse {
				var ev events.APIGatewayProxyRequest
				require.NoError(t, json.Unmarshal(raw, &ev))
				out, err := adapter.ProxyWithContext(context.Background(), ev)
				require.NoError(t, err)
				return out
			}, b)
			var st map[string]any
			require.NoError(t, json.Unmarshal([]byte(answers["patch"].Body), &st))
			assert.Equal(t, map[string]any{"pr": float64(42), "coverage": 91.5}, st["metadata"])
			assert.Equal(t, `"3"`, header(answers["patch"], "ETag"))
		})
	}
}

// runResultsEvents sends the sample events of the results function.
func runResultsEvents(t *testing.T, invoke func(raw []byte) events.APIGatewayProxyResponse) {
	t.Helper()
	send := (&eventSender{t: t, invoke: invoke, dir: "results"}).send
	send("store-json", 201)
	send("store-json", 409)
	junit := send("store-junit", 201)
	assert.Contains(t, junit.Body, `"failed":1`)
	assert.Contains(t, junit.Body, `"commit":"3f2a9c1b7e"`)
	gotest := send("store-gotest", 201)
	assert.Contains(t, gotest.Body, `"failed":3`)
	send("get", 200)
	list := send("list", 200)
	assert.Contains(t, list.Body, `"runs":3`)
	history := send("tests-history", 200)
	assert.Contains(t, history.Body, `"outcome":"failed"`)
	send("tests-flaky", 200)
	groups := send("failures", 200)
	assert.Contains(t, groups.Body, `"tests":["example.com/demo/login.TestLoginBadPassword"]`)
	similar := send("failures-similar", 200)
	assert.Contains(t, similar.Body, `"test":"example.com/demo/login.TestLoginBadPassword"`, "the similar failure is found")
}

// vectorEnv starts a local Upstash-Vector-compatible index for the results
// function, and returns its settings.
func vectorEnv(t *testing.T) map[string]string {
	t.Helper()
	s, err := vectorserver.New(vectorserver.Options{Token: "vector-token", Dimension: failures.Dimension})
	require.NoError(t, err)
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return map[string]string{"UPSTASH_VECTOR_REST_URL": hs.URL, "UPSTASH_VECTOR_REST_TOKEN": "vector-token"}
}

// TestResultsEventsInProcess feeds events/results/*.json through the
// adapter, over both backends.
func TestResultsEventsInProcess(t *testing.T) {
	for _, b := range upstashtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			env := vectorEnv(t)
			env["UPSTASH_REDIS_REST_URL"], env["UPSTASH_REDIS_REST_TOKEN"] = b.URL, upstashtest.Token
			h, err := Handler(context.Background(), config.MapLookup(env), &discard{}, Functions["results"])
			require.NoError(t, err)
			adapter := httpadapter.New(h)
			runResultsEvents(t, func(raw []byte) events.APIGatewayProxyResponse {
				var ev events.APIGatewayProxyRequest
				require.NoError(t, json.Unmarshal(raw, &ev))
				out, err := adapter.ProxyWithContext(context.Background(), ev)
				require.NoError(t, err)
				return out
			})
		})
	}
}

// TestApprovalEventsInProcess feeds events/approval/*.json through the
// adapter, over both backends.
func TestApprovalEventsInProcess(t *testing.T) {
	for _, b := range upstashtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			seedWorkflow(t, b)
			h, err := Handler(context.Background(), config.MapLookup(map[string]string{
				"UPSTASH_REDIS_REST_URL": b.URL, "UPSTASH_REDIS_REST_TOKEN": upstashtest.Token,
				"WEBHOOK_SECRET": servicetest.WebhookSecret, "ALLOW_INSECURE_CALLBACKS": "true", "WEBHOOK_BUDGET": "300ms",
			}), &discard{}, Functions["approval"])
			require.NoError(t, err)
			adapter := httpadapter.New(h)
			runApprovalEvents(t, func(raw []byte) events.APIGatewayProxyResponse {
				var ev events.APIGatewayProxyRequest
				require.NoError(t, json.Unmarshal(raw, &ev))
				out, err := adapter.ProxyWithContext(context.Background(), ev)
				require.NoError(t, err)
				return out
			})
		})
	}
}

// seedWorkflow creates workflow ABC-123456, which the approval events need.
func seedWorkflow(t *testing.T, b *upstashtest.Backend) {
	t.Helper()
	id, _ := keys.ParseWorkflowID("ABC-123456")
	_, _, err := redisstore.NewWorkflows(b.Client(t, upstash.Options{}), keys.Default(), nil).Save(context.Background(),
		workflow.Change{ID: id, FeatureDescription: json.RawMessage(`"Add login"`)})
	require.NoError(t, err)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// In AWS, API Gateway checks the key and the function maps the key's id to
// its client (API_CLIENTS): a reader's key reads and cannot write, and a
// key id that is not listed is refused.
func TestClientsByGatewayKeyID(t *testing.T) {
	b := upstashtest.Mini(t)
	seedWorkflow(t, b)
	h, err := Handler(context.Background(), config.MapLookup(map[string]string{
		"UPSTASH_REDIS_REST_URL": b.URL, "UPSTASH_REDIS_REST_TOKEN": upstashtest.Token,
		"API_CLIENTS": `[{"key_id":"kid-reader","name":"reader","scopes":["read"]},{"key_id":"kid-n8n","name":"n8n","scopes":["*"]}]`,
	}), &discard{}, Functions["workflow"])
	require.NoError(t, err)
	adapter := httpadapter.New(h)
	send := func(keyID, method, path, body string) int {
		ev := events.APIGatewayProxyRequest{HTTPMethod: method, Path: path, Body: body,
			Headers:        map[string]string{"Content-Type": "application/json"},
			RequestContext: events.APIGatewayProxyRequestContext{Identity: events.APIGatewayRequestIdentity{APIKeyID: keyID}}}
		out, err := adapter.ProxyWithContext(context.Background(), ev)
		require.NoError(t, err)
		return out.StatusCode
	}
	assert.Equal(t, http.StatusOK, send("kid-reader", "GET", "/api/workflow/state/ABC-123456", ""))
	assert.Equal(t, http.StatusForbidden, send("kid-reader", "PATCH", "/api/workflow/state/ABC-123456", `{"current_stage":"x"}`))
	assert.Equal(t, http.StatusOK, send("kid-n8n", "PATCH", "/api/workflow/state/ABC-123456", `{"current_stage":"x"}`))
	assert.Equal(t, http.StatusForbidden, send("kid-unknown", "GET", "/api/workflow/state/ABC-123456", ""))
	assert.Equal(t, http.StatusForbidden, send("", "GET", "/api/health", ""))
}

package mcpserver_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/mcpserver"
	"github.com/ai-rails/state-service/shared/routes"
	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
	"github.com/ai-rails/state-service/shared/webhook"
	"github.com/ai-rails/state-service/shared/wiring"
)

const wf = "ABC-123456"

// keyed adds the API key to every request, as an MCP client's configured
// header does.
type keyed struct{ key string }

func (k keyed) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if k.key != "" {
		r.Header.Set("x-api-key", k.key)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// notifications is the operator's notification endpoint.
type notifications struct {
	mu     sync.Mutex
	bodies []map[string]any
}

func (n *notifications) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var p map[string]any
	_ = json.Unmarshal(raw, &p)
	n.mu.Lock()
	if webhook.Verify([]byte(servicetest.WebhookSecret), raw, r.Header.Get(webhook.HeaderSignature)) {
		n.bodies = append(n.bodies, p)
	}
	n.mu.Unlock()
}

// env is the API over a backend behind a real listener, and an MCP
// client session on its /mcp.
type env struct {
	*servicetest.Env
	URL     string
	session *mcp.ClientSession
	notify  *notifications
}

func eachEnv(t *testing.T, notify bool, fn func(t *testing.T, e *env)) {
	n := &notifications{}
	ns := httptest.NewServer(n)
	defer ns.Close()
	configure := func(c *config.Config, _ *wiring.Options) {
		if notify {
			c.Approvals.NotifyURL = ns.URL + "/notify"
		}
	}
	servicetest.ForEachBackendWith(t, configure, func(t *testing.T, se *servicetest.Env) {
		n.mu.Lock()
		n.bodies = nil
		n.mu.Unlock()
		srv := httptest.NewServer(se.Handler)
		t.Cleanup(srv.Close)
		e := &env{Env: se, URL: srv.URL, notify: n}
		e.session = connect(t, srv.URL+"/mcp", servicetest.APIKey)
		a := se.Do(servicetest.Req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": wf, "feature_description": "login page"}})
		require.Equal(t, http.StatusCreated, a.Status)
		fn(t, e)
	})
}

func connect(t *testing.T, url, key string) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "mcp-test", Version: "1"}, nil)
	s, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: url,
		HTTPClient: &http.Client{Transport: keyed{key}, Timeout: 40 * time.Second}, DisableStandaloneSSE: true}, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// call calls a tool and answers its structured content, or its problem
// detail when it failed.
func (e *env) call(t *testing.T, name string, args map[string]any) (map[string]any, bool) {
	t.Helper()
	res, err := e.session.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	require.NoError(t, err, name)
	require.Len(t, res.Content, 1)
	text := res.Content[0].(*mcp.TextContent).Text
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(text), &out), text)
	if res.IsError {
		assert.Nil(t, res.StructuredContent, "an error has no structured content")
		return out, false
	}
	raw, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	assert.JSONEq(t, text, string(raw), "the text is the structured content")
	checkOutput(t, e.session, name, raw)
	return out, true
}

// failed calls a tool that must fail, and answers its problem slug.
func (e *env) failed(t *testing.T, name string, args map[string]any) (string, map[string]any) {
	t.Helper()
	p, ok := e.call(t, name, args)
	require.False(t, ok, "%s(%v) succeeded: %v", name, args, p)
	return strings.TrimPrefix(p["type"].(string), "urn:ai-rails:problem:"), p
}

var schemas sync.Map

// checkOutput validates a tool's answer against its output schema.
func checkOutput(t *testing.T, s *mcp.ClientSession, name string, raw []byte) {
	t.Helper()
	v, ok := schemas.Load(name)
	if !ok {
		tools, err := s.ListTools(context.Background(), nil)
		require.NoError(t, err)
		for _, tl := range tools.Tools {
			schemas.Store(tl.Name, resolve(t, tl.OutputSchema))
		}
		v, _ = schemas.Load(name)
	}
	var inst any
	require.NoError(t, json.Unmarshal(raw, &inst))
	assert.NoError(t, v.(*jsonschema.Resolved).Validate(inst), "%s answered %s", name, raw)
}

func resolve(t *testing.T, schema any) *jsonschema.Resolved {
	t.Helper()
	raw, err := json.Marshal(schema)
	require.NoError(t, err)
	var s jsonschema.Schema
	require.NoError(t, json.Unmarshal(raw, &s))
	r, err := s.Resolve(nil)
	require.NoError(t, err, "%s", raw)
	return r
}

func TestInitializeAndListTools(t *testing.T) {
	eachEnv(t, true, func(t *testing.T, e *env) {
		init := e.session.InitializeResult()
		assert.Equal(t, mcpserver.Name, init.ServerInfo.Name)
		assert.NotNil(t, init.Capabilities.Tools)
		assert.Contains(t, init.Instructions, "approval_wait")

		list, err := e.session.ListTools(context.Background(), nil)
		require.NoError(t, err)
		var names []string
		for _, tl := range list.Tools {
			names = append(names, tl.Name)
			in := resolve(t, tl.InputSchema)
			assert.Equal(t, "object", in.Schema().Type, tl.Name)
			assert.False(t, in.Schema().AdditionalProperties == nil, "%s: unknown arguments are refused", tl.Name)
			out := resolve(t, tl.OutputSchema)
			assert.Equal(t, "object", out.Schema().Type, tl.Name)
			assert.NotEmpty(t, tl.Description)
			require.NotNil(t, tl.Annotations, tl.Name)
			i := slices.IndexFunc(routes.Tools, func(rt routes.Tool) bool { return rt.Name == tl.Name })
			require.GreaterOrEqual(t, i, 0, tl.Name)
			rt := routes.Tools[i]
			assert.Equal(t, rt.ReadOnly, tl.Annotations.ReadOnlyHint, tl.Name)
			assert.Equal(t, rt.Idempotent, tl.Annotations.IdempotentHint, tl.Name)
			require.NotNil(t, tl.Annotations.DestructiveHint)
			assert.Equal(t, rt.Destructive, *tl.Annotations.DestructiveHint, tl.Name)
		}
		var want []string
		for _, rt := range routes.Tools {
			want = append(want, rt.Name)
		}
		assert.ElementsMatch(t, want, names)
	})
}

// TestNoToolDecidesOrDeletes holds the tool table to its promise.
func TestNoToolDecidesOrDeletes(t *testing.T) {
	byName := map[string]routes.Route{}
	for _, r := range routes.Table {
		byName[r.Name] = r
	}
	for _, tl := range routes.Tools {
		r, ok := byName[tl.Route]
		require.True(t, ok, "%s calls %s, which is no route", tl.Name, tl.Route)
		assert.NotEqual(t, "DELETE", r.Method, tl.Name)
		assert.NotContains(t, []string{"approval.decide", "approve.vote", "approve.page"}, r.Name, tl.Name)
		assert.False(t, r.Public, tl.Name)
		if tl.ReadOnly {
			assert.False(t, r.Write, "%s is read-only but calls a write", tl.Name)
		}
	}
}

func TestWorkflowTools(t *testing.T) {
	eachEnv(t, false, func(t *testing.T, e *env) {
		st, ok := e.call(t, "workflow_get", map[string]any{"workflow_id": wf})
		require.True(t, ok)
		assert.Equal(t, "pending", st["status"])
		assert.EqualValues(t, 1, st["version"])

		up, ok := e.call(t, "workflow_update", map[string]any{"workflow_id": wf, "status": "in_progress", "current_stage": "red",
			"metadata": map[string]any{"agent": "claude"}, "expected_version": 1})
		require.True(t, ok, "%v", up)
		assert.Equal(t, "in_progress", up["status"])
		assert.EqualValues(t, 2, up["version"])
		rest := e.Do(servicetest.Req{Method: "GET", Path: "/api/workflow/state/" + wf})
		assert.Equal(t, rest.Body, up, "the REST answer, exactly")

		slug, _ := e.failed(t, "workflow_update", map[string]any{"workflow_id": wf, "current_stage": "green", "expected_version": 1})
		assert.Equal(t, "precondition-failed", slug, "a stale expected_version")
		slug, _ = e.failed(t, "workflow_update", map[string]any{"workflow_id": wf, "status": "pending"})
		assert.Equal(t, "invalid-transition", slug)

		h, ok := e.call(t, "workflow_history", map[string]any{"workflow_id": wf})
		require.True(t, ok)
		assert.Len(t, h["events"], 2)

		before := e.Snapshot()
		for _, c := range []struct {
			tool string
			args map[string]any
			slug string
		}{
			{"workflow_get", map[string]any{}, "validation"},
			{"workflow_get", map[string]any{"workflow_id": "nope"}, "validation"},
			{"workflow_get", map[string]any{"workflow_id": "ZZZ-000000"}, "not-found"},
			{"workflow_get", map[string]any{"workflow_id": wf, "extra": 1}, "validation"},
			{"workflow_update", map[string]any{"workflow_id": wf, "status": "done"}, "validation"},
			{"workflow_update", map[string]any{"workflow_id": wf, "expected_version": 0}, "validation"},
			{"workflow_update", map[string]any{"workflow_id": "ZZZ-000000", "current_stage": "x"}, "not-found"},
			{"workflow_history", map[string]any{"workflow_id": 7}, "validation"},
		} {
			slug, p := e.failed(t, c.tool, c.args)
			assert.Equal(t, c.slug, slug, "%s %v: %v", c.tool, c.args, p)
			assert.NotEmpty(t, p["detail"])
		}
		assert.Equal(t, before, e.Snapshot(), "a failed call writes nothing")
	})
}

func TestApprovalTools(t *testing.T) {
	eachEnv(t, true, func(t *testing.T, e *env) {
		a, ok := e.call(t, "approval_request", map[string]any{"workflow_id": wf, "request_type": "deploy", "content": "Deploy build 42",
			"requester": "agent-7", "approvers": []string{"alice", "bob"}, "remind_after_seconds": []int{600}, "on_timeout": "rejected"})
		require.True(t, ok, "%v", a)
		assert.Nil(t, a["links"], "the agent never sees a link")
		assert.Equal(t, "rejected", a["on_timeout"])
		id := a["approval_id"].(string)
		e.notify.mu.Lock()
		require.Len(t, e.notify.bodies, 1, "approval.requested went to the notification endpoint")
		sent := e.notify.bodies[0]
		e.notify.mu.Unlock()
		assert.Equal(t, "approval.requested", sent["event"])
		links := sent["links"].(map[string]any)
		assert.Len(t, links, 2)

		got, ok := e.call(t, "approval_get", map[string]any{"approval_id": id})
		require.True(t, ok)
		assert.Equal(t, "pending", got["status"])

		w, ok := e.call(t, "approval_wait", map[string]any{"approval_id": id, "timeout_seconds": 1})
		require.True(t, ok)
		assert.Equal(t, false, w["final"])
		assert.EqualValues(t, 1000, w["poll_after_ms"])

		// A wait that a person's decision ends: alice and bob vote by their links.
		done := make(chan map[string]any)
		go func() { w, _ := e.call(t, "approval_wait", map[string]any{"approval_id": id}); done <- w }()
		time.Sleep(300 * time.Millisecond)
		for _, who := range []string{"alice"} { // one approval of one needed
			u := links[who].(string)
			tok := u[strings.LastIndex(u, "/")+1:]
			r := e.Do(servicetest.Req{Method: "POST", Path: "/approve/" + tok, Body: "decision=approved",
				Header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin", "x-api-key": ""}})
			require.Equal(t, http.StatusSeeOther, r.Status, "%s", r.Raw)
		}
		w = <-done
		assert.Equal(t, true, w["final"])
		assert.Nil(t, w["poll_after_ms"])
		assert.Equal(t, "approved", w["approval"].(map[string]any)["status"])

		before := e.Snapshot()
		for _, c := range []struct {
			tool string
			args map[string]any
			slug string
		}{
			{"approval_request", map[string]any{"workflow_id": wf, "request_type": "deploy", "content": "x", "requester": "agent-7"}, "validation"},
			{"approval_request", map[string]any{"workflow_id": wf, "request_type": "deploy", "content": "x", "requester": "agent-7", "approvers": []string{"agent-7"}}, "validation"},
			{"approval_request", map[string]any{"workflow_id": wf, "request_type": "deploy", "content": "x", "requester": "a", "approvers": []string{"b"}, "on_timeout": "approved"}, "validation"},
			{"approval_request", map[string]any{"workflow_id": wf, "request_type": "deploy", "content": "x", "requester": "a", "approvers": []string{"b"}, "callback_url": "https://x.example"}, "validation"},
			{"approval_request", map[string]any{"workflow_id": "ZZZ-000000", "request_type": "deploy", "content": "x", "requester": "a", "approvers": []string{"b"}}, "not-found"},
			{"approval_get", map[string]any{"approval_id": "nope"}, "validation"},
			{"approval_get", map[string]any{"approval_id": id, "timeout_seconds": 5}, "validation"},
			{"approval_get", map[string]any{"approval_id": "3f0c6a8e-5b7d-4c1e-9a2b-1d2e3f4a5b6c"}, "not-found"},
			{"approval_wait", map[string]any{"approval_id": id, "timeout_seconds": 26}, "validation"},
			{"approval_wait", map[string]any{"approval_id": "3f0c6a8e-5b7d-4c1e-9a2b-1d2e3f4a5b6c", "timeout_seconds": 25}, "not-found"},
		} {
			slug, p := e.failed(t, c.tool, c.args)
			assert.Equal(t, c.slug, slug, "%s %v: %v", c.tool, c.args, p)
		}
		assert.Equal(t, before, e.Snapshot(), "a failed call writes nothing")
	})
}

func TestApprovalRequestNeedsANotificationEndpoint(t *testing.T) {
	eachEnv(t, false, func(t *testing.T, e *env) {
		before := e.Snapshot()
		slug, p := e.failed(t, "approval_request", map[string]any{"workflow_id": wf, "request_type": "deploy", "content": "x",
			"requester": "a", "approvers": []string{"b"}})
		assert.Equal(t, "unprocessable", slug)
		assert.Contains(t, p["detail"], "APPROVAL_NOTIFY_URL")
		assert.Equal(t, before, e.Snapshot())
	})
}

const junit = `<testsuite name="unit" tests="2" failures="1"><testcase name="TestA" time="0.1"/><testcase name="TestB" time="0.2"><failure message="boom">expected 1, got 2</failure></testcase></testsuite>`

const goTestJSON = `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p","Test":"TestA","Elapsed":0.1}
{"Action":"run","Package":"p","Test":"TestB"}
{"Action":"output","Package":"p","Test":"TestB","Output":"expected 1, got 2\n"}
{"Action":"fail","Package":"p","Test":"TestB","Elapsed":0.2}
`

func TestResultsAndMemoryTools(t *testing.T) {
	eachEnv(t, false, func(t *testing.T, e *env) {
		for _, c := range []struct{ format, report string }{
			{"junit", junit}, {"go-test-json", goTestJSON},
			{"json", `{"passed":1,"failed":1,"skipped":0,"duration_seconds":0.3,"failure_details":[{"test":"TestB","message":"expected 1, got 2"}]}`},
		} {
			r, ok := e.call(t, "results_record", map[string]any{"workflow_id": wf, "test_suite": "unit", "format": c.format,
				"report": c.report, "commit": "abc1234", "attempt": 1})
			require.True(t, ok, "%s: %v", c.format, r)
			assert.EqualValues(t, 1, r["passed"], c.format)
			assert.EqualValues(t, 1, r["failed"], c.format)
			assert.Equal(t, "abc1234", r["commit"], c.format)
			rest := e.Do(servicetest.Req{Method: "GET", Path: "/api/results/" + r["test_id"].(string)})
			assert.Equal(t, rest.Body, r, "%s: the stored result, as REST reads it", c.format)
		}
		fl, ok := e.call(t, "tests_flaky", map[string]any{"test_suite": "unit", "limit": 10})
		require.True(t, ok)
		assert.NotNil(t, fl["items"])
		sim, ok := e.call(t, "failures_similar", map[string]any{"text": "expected 1, got 2", "k": 3})
		require.True(t, ok, "%v", sim)
		assert.NotNil(t, sim["items"])

		before := e.Snapshot()
		for _, c := range []struct {
			tool string
			args map[string]any
			slug string
		}{
			{"results_record", map[string]any{"workflow_id": wf, "test_suite": "unit", "format": "tap", "report": "ok"}, "validation"},
			{"results_record", map[string]any{"workflow_id": wf, "test_suite": "unit", "format": "junit", "report": "<nope"}, "validation"},
			{"results_record", map[string]any{"workflow_id": wf, "test_suite": "unit", "format": "json", "report": "{}"}, "validation"},
			{"results_record", map[string]any{"workflow_id": wf, "test_suite": "unit", "format": "json", "report": `{"workflow_id":"XYZ-000001","passed":1,"failed":0,"skipped":0,"duration_seconds":1}`}, "validation"},
			{"results_record", map[string]any{"workflow_id": wf, "test_suite": "unit", "format": "json", "report": strings.Repeat(" ", 300<<10)}, "too-large"},
			{"tests_flaky", map[string]any{}, "validation"},
			{"tests_flaky", map[string]any{"test_suite": "unit", "limit": 0}, "validation"},
			{"failures_similar", map[string]any{"text": ""}, "validation"},
			{"failures_similar", map[string]any{"text": "x", "k": 51}, "validation"},
		} {
			slug, p := e.failed(t, c.tool, c.args)
			assert.Equal(t, c.slug, slug, "%s %v: %v", c.tool, c.args, p)
		}
		assert.Equal(t, before, e.Snapshot(), "a failed call writes nothing")
	})
}

// rpc posts one raw JSON-RPC message to /mcp.
func rpc(t *testing.T, url, key, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("POST", url+"/mcp", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-06-18")
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

func TestTheAPIKey(t *testing.T) {
	eachEnv(t, true, func(t *testing.T, e *env) {
		call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"workflow_update","arguments":{"workflow_id":"` + wf + `","current_stage":"x"}}}`
		before := e.Snapshot()
		for _, key := range []string{"", "wrong"} {
			status, body := rpc(t, e.URL, key, call)
			assert.Equal(t, http.StatusForbidden, status)
			assert.Equal(t, "urn:ai-rails:problem:forbidden", body["type"])
		}
		assert.Equal(t, before, e.Snapshot(), "nothing ran")
		status, body := rpc(t, e.URL, servicetest.APIKey, call)
		assert.Equal(t, http.StatusOK, status, "%v", body)
	})
}

func TestMalformedMessages(t *testing.T) {
	eachEnv(t, false, func(t *testing.T, e *env) {
		for _, c := range []struct {
			body string
			code float64
		}{
			{`{not json`, -32700},
			{`[]`, -32600},
			{`{"id":1,"method":"tools/list"}`, -32600},
			{`{"jsonrpc":"2.0","id":1,"method":"no/such/method"}`, -32601},
			{`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"approval_decide","arguments":{}}}`, -32602},
		} {
			_, body := rpc(t, e.URL, servicetest.APIKey, c.body)
			require.NotNil(t, body["error"], "%s: %v", c.body, body)
			assert.Equal(t, c.code, body["error"].(map[string]any)["code"], c.body)
		}
	})
}

// TestOutage: a store that cannot be reached is a tool error like any
// other, with the problem the REST route answers.
func TestOutage(t *testing.T) {
	se := servicetest.NewWith(t, upstashtest.Mini(t), func(c *config.Config, _ *wiring.Options) { c.Store.URL = "http://127.0.0.1:1" })
	srv := httptest.NewServer(se.Handler)
	defer srv.Close()
	s := connect(t, srv.URL+"/mcp", servicetest.APIKey)
	res, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: "workflow_get", Arguments: map[string]any{"workflow_id": wf}})
	require.NoError(t, err)
	require.True(t, res.IsError)
	var p map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.Content[0].(*mcp.TextContent).Text), &p))
	assert.Equal(t, "urn:ai-rails:problem:store-unavailable", p["type"])
	assert.NotNil(t, p["retry_after_seconds"])
}

// TestToolsCostWhatTheirRoutesCost counts the Upstash round trips of each
// tool call and of its REST route, made the same way, once the scripts are
// loaded: they are equal, one each (two for a create that also records the
// delivery of its approval.requested).
func TestToolsCostWhatTheirRoutesCost(t *testing.T) {
	eachEnv(t, true, func(t *testing.T, e *env) {
		trips := func(do func()) uint64 {
			before := e.Client.Stats().RoundTrips
			do()
			return e.Client.Stats().RoundTrips - before
		}
		tool := func(name string, args map[string]any) func() {
			return func() { _, ok := e.call(t, name, args); require.True(t, ok, name) }
		}
		rest := func(method, path string, body any) func() {
			return func() {
				a := e.Do(servicetest.Req{Method: method, Path: path, Body: body})
				require.Less(t, a.Status, 300, "%s %s: %s", method, path, a.Raw)
			}
		}
		create := map[string]any{"workflow_id": wf, "request_type": "deploy", "content": "x", "requester": "agent-7", "approvers": []string{"alice"}}
		report := `{"passed":1,"failed":0,"skipped":0,"duration_seconds":1}`
		// Warm up: load every script once.
		tool("approval_request", create)()
		rest("POST", "/api/approval", create)()
		tool("results_record", map[string]any{"workflow_id": wf, "test_suite": "unit", "format": "json", "report": report})()
		tool("workflow_update", map[string]any{"workflow_id": wf, "current_stage": "warm"})()

		a, _ := e.call(t, "approval_request", create)
		id := a["approval_id"].(string)
		for _, c := range []struct {
			name     string
			tool, rt func()
			want     uint64
		}{
			{"workflow_get", tool("workflow_get", map[string]any{"workflow_id": wf}), rest("GET", "/api/workflow/state/"+wf, nil), 1},
			{"workflow_update", tool("workflow_update", map[string]any{"workflow_id": wf, "current_stage": "a"}),
				rest("PATCH", "/api/workflow/state/"+wf, map[string]any{"current_stage": "b"}), 1},
			{"workflow_history", tool("workflow_history", map[string]any{"workflow_id": wf}), rest("GET", "/api/workflow/state/"+wf+"/history", nil), 1},
			{"approval_request", tool("approval_request", create), rest("POST", "/api/approval", create), 2},
			{"approval_get", tool("approval_get", map[string]any{"approval_id": id}), rest("GET", "/api/approval/"+id, nil), 1},
			{"results_record", tool("results_record", map[string]any{"workflow_id": wf, "test_suite": "unit", "format": "json", "report": report}),
				rest("POST", "/api/results", map[string]any{"workflow_id": wf, "test_suite": "unit", "passed": 1, "failed": 0, "skipped": 0, "duration_seconds": 1}), 1},
			{"tests_flaky", tool("tests_flaky", map[string]any{"test_suite": "unit"}), rest("GET", "/api/tests/flaky?test_suite=unit", nil), 1},
		} {
			assert.Equal(t, c.want, trips(c.tool), "%s: the tool", c.name)
			assert.Equal(t, c.want, trips(c.rt), "%s: its route", c.name)
		}
		similar := map[string]any{"text": "expected 1, got 2"}
		assert.Equal(t, trips(rest("POST", "/api/failures/similar", similar)), trips(tool("failures_similar", similar)), "failures_similar")
	})
}

// TestToolScopes: /mcp needs the scope mcp, and each tool the scope of its
// REST route too; a call outside them is a tool error naming the scope,
// and writes nothing.
func TestToolScopes(t *testing.T) {
	keys := `[{"name":"reader","key":"reader-key-0123456789","scopes":["read","mcp"]},
	          {"name":"bare","key":"bare-key-0123456789","scopes":["mcp"]},
	          {"name":"rest","key":"rest-key-0123456789","scopes":["read","write"]}]`
	se := servicetest.NewWith(t, upstashtest.Mini(t), func(c *config.Config, _ *wiring.Options) { c.APIKeys = keys })
	srv := httptest.NewServer(se.Handler)
	defer srv.Close()
	se.Do(servicetest.Req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": wf, "feature_description": "x"}})
	status, body := rpc(t, srv.URL, "rest-key-0123456789", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	assert.Equal(t, http.StatusForbidden, status)
	assert.Equal(t, "mcp", body["missing_scope"])

	e := &env{Env: se, URL: srv.URL, session: connect(t, srv.URL+"/mcp", "reader-key-0123456789")}
	_, ok := e.call(t, "workflow_get", map[string]any{"workflow_id": wf})
	assert.True(t, ok, "read and mcp: a read-only tool")
	before := se.Snapshot()
	slug, p := e.failed(t, "workflow_update", map[string]any{"workflow_id": wf, "current_stage": "x"})
	assert.Equal(t, "forbidden", slug)
	assert.Contains(t, p["detail"], "lacks the scope write")
	assert.Equal(t, before, se.Snapshot())

	bare := &env{Env: se, URL: srv.URL, session: connect(t, srv.URL+"/mcp", "bare-key-0123456789")}
	slug, _ = bare.failed(t, "workflow_get", map[string]any{"workflow_id": wf})
	assert.Equal(t, "forbidden", slug, "mcp alone reads nothing")
}

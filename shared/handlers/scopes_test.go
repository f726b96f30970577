package handlers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/ai-rails/state-service/shared/access"
	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/handlers"
	"github.com/ai-rails/state-service/shared/routes"
	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
	"github.com/ai-rails/state-service/shared/wiring"
)

// scopeKeys are a client per scope set the tests need, by name; each key
// is its name, padded.
var scopeClients = map[string][]access.Scope{
	"reader": {access.Read}, "writer": {access.Write}, "decider": {access.Decide}, "agent": {access.Read, access.Write, access.MCP},
	"nothing-but-mcp": {access.MCP},
}

func keyOf(name string) string { return name + "-key-0123456789" }

func scopedKeys(extra map[string][]access.Scope) string {
	var list []access.KeyedClient
	for name, scopes := range scopeClients {
		list = append(list, access.KeyedClient{Name: name, Key: keyOf(name), Scopes: scopes})
	}
	for name, scopes := range extra {
		list = append(list, access.KeyedClient{Name: name, Key: keyOf(name), Scopes: scopes})
	}
	raw, _ := json.Marshal(list)
	return string(raw)
}

// routeCall is a request that the route answers with success, made ready
// by setup with the default key (every scope).
type routeCall struct {
	req servicetest.Req
	ok  int
}

// callFor returns a request for the route that succeeds with the right
// scope, preparing what it needs first.
func callFor(t *testing.T, e *servicetest.Env, r routes.Route, n int) routeCall {
	t.Helper()
	wf := fmt.Sprintf("SCP-%06d", n)
	must := func(req servicetest.Req, status int) map[string]any {
		a := e.Do(req)
		require.Equal(t, status, a.Status, "setup %s %s: %s", req.Method, req.Path, a.Raw)
		return a.Body
	}
	must(servicetest.Req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": wf, "feature_description": "x"}}, http.StatusCreated)
	approvalBody := map[string]any{"workflow_id": wf, "request_type": "deploy", "content": "x", "requester": "ci"}
	ap := must(servicetest.Req{Method: "POST", Path: "/api/approval", Body: approvalBody}, http.StatusCreated)["approval_id"].(string)
	res := must(servicetest.Req{Method: "POST", Path: "/api/results", Body: map[string]any{"workflow_id": wf, "test_suite": "unit",
		"passed": 1, "failed": 0, "skipped": 0, "duration_seconds": 1}}, http.StatusCreated)["test_id"].(string)
	lockID := "res-" + wf
	lock := func() string {
		return must(servicetest.Req{Method: "POST", Path: "/api/lock/" + lockID, Body: map[string]any{"owner": "o", "ttl_seconds": 60}}, http.StatusCreated)["token"].(string)
	}
	p := strings.NewReplacer("{workflow_id}", wf, "{approval_id}", ap, "{test_id}", res, "{resource_id}", lockID).Replace(r.Path)
	c := routeCall{req: servicetest.Req{Method: r.Method, Path: p}, ok: http.StatusOK}
	switch r.Name {
	case "workflow.save":
		c.req.Body, c.ok = map[string]any{"workflow_id": fmt.Sprintf("NEW-%06d", n), "feature_description": "x"}, http.StatusCreated
	case "workflow.patch":
		c.req.Body = map[string]any{"current_stage": "red"}
	case "workflow.delete":
		c.ok = http.StatusNoContent
	case "lock.acquire":
		c.req.Body, c.ok = map[string]any{"owner": "o", "ttl_seconds": 60}, http.StatusCreated
	case "lock.extend":
		c.req.Body, c.req.Header = map[string]any{"ttl_seconds": 60}, map[string]string{"Lock-Token": lock()}
	case "lock.release":
		c.req.Header, c.ok = map[string]string{"Lock-Token": lock()}, http.StatusNoContent
	case "approval.create":
		c.req.Body, c.ok = approvalBody, http.StatusCreated
	case "approval.decide":
		c.req.Body = map[string]any{"decision": "approved", "approver": "alice"}
	case "results.create":
		c.req.Body, c.ok = map[string]any{"workflow_id": wf, "test_suite": "unit", "passed": 1, "failed": 0, "skipped": 0, "duration_seconds": 1}, http.StatusCreated
	case "results.list":
		c.req.Path += "?workflow_id=" + wf
	case "tests.history":
		c.req.Path += "?test_suite=unit&test=t"
	case "tests.flaky":
		c.req.Path += "?test_suite=unit"
	case "failures.list":
		c.req.Path += "?workflow_id=" + wf
	case "failures.similar":
		c.req.Body = map[string]any{"text": "expected 1, got 2"}
	case "mcp.serve":
		c.req.Body = map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
		c.req.Header = map[string]string{"Accept": "application/json, text/event-stream"}
	}
	return c
}

// TestEveryRouteChecksItsScope calls every route of the table with a key
// that lacks its scope (403 naming the scope, nothing written) and with
// one that has it (the route's success), on real Redis and miniredis.
func TestEveryRouteChecksItsScope(t *testing.T) {
	configure := func(c *config.Config, _ *wiring.Options) { c.APIKeys = scopedKeys(nil) }
	servicetest.ForEachBackendWith(t, configure, func(t *testing.T, e *servicetest.Env) {
		for i, r := range routes.Table {
			if r.Public {
				continue
			}
			t.Run(r.Name, func(t *testing.T) {
				with, without := "", ""
				for name, scopes := range scopeClients {
					has := (access.Client{Scopes: scopes}).Has(access.Scope(r.Scope))
					if has && with == "" || has && name == "agent" {
						with = name
					}
					if !has && (without == "" || name == "nothing-but-mcp") {
						without = name
					}
				}
				if r.Scope == string(access.Decide) {
					with = "decider"
				}
				c := callFor(t, e, r, i)
				if without != "" {
					before := e.Snapshot()
					req := c.req
					req.Header = withKey(req.Header, keyOf(without))
					a := e.Do(req)
					servicetest.Problem(t, a, http.StatusForbidden, "forbidden")
					assert.Contains(t, a.Body["detail"], "lacks the scope "+r.Scope)
					assert.Equal(t, r.Scope, a.Body["missing_scope"])
					assert.Equal(t, before, e.Snapshot(), "%s without %s wrote nothing", without, r.Scope)
				}
				req := c.req
				req.Header = withKey(req.Header, keyOf(with))
				a := e.Do(req)
				assert.Equal(t, c.ok, a.Status, "%s with %s (%s): %s", r.Name, with, r.Scope, a.Raw)
			})
		}
	})
}

func withKey(h map[string]string, key string) map[string]string {
	out := map[string]string{"x-api-key": key}
	for k, v := range h {
		out[k] = v
	}
	return out
}

// TestLinksOnlyToDecide: a create answers the approvers' links only to a
// client that may decide.
func TestLinksOnlyToDecide(t *testing.T) {
	extra := map[string][]access.Scope{"maker": {access.Write}, "boss": {access.Write, access.Decide}}
	e := servicetest.NewWith(t, upstashtest.Mini(t), func(c *config.Config, _ *wiring.Options) { c.APIKeys = scopedKeys(extra) })
	e.Do(servicetest.Req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": "ABC-123456", "feature_description": "x"}})
	body := map[string]any{"workflow_id": "ABC-123456", "request_type": "deploy", "content": "x", "requester": "ci", "approvers": []string{"alice"}}
	a := e.Do(servicetest.Req{Method: "POST", Path: "/api/approval", Body: body, Header: map[string]string{"x-api-key": keyOf("maker")}})
	require.Equal(t, http.StatusCreated, a.Status, "%s", a.Raw)
	assert.Nil(t, a.Body["links"])
	a = e.Do(servicetest.Req{Method: "POST", Path: "/api/approval", Body: body, Header: map[string]string{"x-api-key": keyOf("boss")}})
	require.Equal(t, http.StatusCreated, a.Status)
	assert.NotNil(t, a.Body["links"])
}

// TestRandomScopeSets: for any set of scopes, a client may call exactly
// the routes whose scope it holds (and health with any key); the others
// answer 403 before they run.
func TestRandomScopeSets(t *testing.T) {
	e := servicetest.New(t, upstashtest.Mini(t))
	rapid.Check(t, func(rt *rapid.T) {
		scopes := rapid.SliceOfDistinct(rapid.SampledFrom(append(access.Scopes, access.All)), func(s access.Scope) access.Scope { return s }).
			Filter(func(s []access.Scope) bool { return len(s) > 0 }).Draw(rt, "scopes")
		kr, err := access.ParseKeys("", mustJSON([]access.KeyedClient{{Name: "x", Key: "random-key-0123456789", Scopes: scopes}}))
		require.NoError(rt, err)
		r := rapid.SampledFrom(routes.Table).Filter(func(r routes.Route) bool { return !r.Public }).Draw(rt, "route")
		req, _ := http.NewRequest(r.Method, sample.Replace(r.Path), nil)
		req.Header.Set("x-api-key", "random-key-0123456789")
		c, ok := kr.Resolve(req)
		require.True(rt, ok)
		want := r.Scope == ""
		for _, s := range scopes {
			want = want || s == access.All || string(s) == r.Scope
		}
		if c.Has(access.Scope(r.Scope)) != want {
			rt.Fatalf("%v on %s (%s): Has says %v", scopes, r.Name, r.Scope, !want)
		}
		if !want {
			before := e.Snapshot()
			a := serveWith(e, req, kr)
			if a != http.StatusForbidden {
				rt.Fatalf("%v on %s: %d, want 403", scopes, r.Name, a)
			}
			if !assert.ObjectsAreEqual(before, e.Snapshot()) {
				rt.Fatalf("%v on %s wrote", scopes, r.Name)
			}
		}
	})
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// serveWith serves req with the Env's services and a keyring of its own.
func serveWith(e *servicetest.Env, req *http.Request, kr *access.Keyring) int {
	c := e.Service.HTTP
	c.Clients = kr
	w := httptest.NewRecorder()
	handlers.New(e.Service.Services, c).ServeHTTP(w, req)
	return w.Code
}

// TestAuditNamesTheClient: each audit event records the client whose call
// made it; none for what no client did.
func TestAuditNamesTheClient(t *testing.T) {
	extra := map[string][]access.Scope{"maker": {access.Write, access.Read}, "boss": {access.Decide, access.Read}}
	servicetest.ForEachBackendWith(t, func(c *config.Config, _ *wiring.Options) { c.APIKeys = scopedKeys(extra) }, func(t *testing.T, e *servicetest.Env) {
		e.Do(servicetest.Req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": "ABC-123456", "feature_description": "x"}})
		a := e.Do(servicetest.Req{Method: "POST", Path: "/api/approval", Header: map[string]string{"x-api-key": keyOf("maker")},
			Body: map[string]any{"workflow_id": "ABC-123456", "request_type": "deploy", "content": "x", "requester": "ci"}})
		require.Equal(t, http.StatusCreated, a.Status, "%s", a.Raw)
		id := a.Body["approval_id"].(string)
		d := e.Do(servicetest.Req{Method: "POST", Path: "/api/approval/" + id + "/decision", Header: map[string]string{"x-api-key": keyOf("boss")},
			Body: map[string]any{"decision": "approved", "approver": "alice"}})
		require.Equal(t, http.StatusOK, d.Status, "%s", d.Raw)
		au := e.Do(servicetest.Req{Method: "GET", Path: "/api/approval/" + id + "/audit"})
		var clients []any
		for _, ev := range au.Body["events"].([]any) {
			clients = append(clients, ev.(map[string]any)["client"])
		}
		assert.Equal(t, []any{"maker", "boss"}, clients)
	})
}

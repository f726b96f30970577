package handlers_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/handlers"
	"github.com/ai-rails/state-service/shared/openapi"
	"github.com/ai-rails/state-service/shared/routes"
	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
)

// The route table, the handlers New mounts, and the OpenAPI
// document hold the same routes: a route added to one without the others
// fails here.
func TestRouteTableMatchesHandlersAndDocument(t *testing.T) {
	e := servicetest.New(t, upstashtest.Mini(t))
	var table []string
	for _, r := range routes.Table {
		table = append(table, r.Pattern())
		// Every route has a handler: a path the router does not know answers
		// not-found with "no route" before any handler runs.
		a := e.Do(servicetest.Req{Method: r.Method, Path: sample.Replace(r.Path)})
		assert.NotContains(t, string(a.Raw), "no route for", r.Pattern())
		assert.NotEqual(t, http.StatusMethodNotAllowed, a.Status, r.Pattern())
	}
	doc, err := openapi.Load()
	require.NoError(t, err)
	var documented []string
	for path, item := range doc.Paths.Map() {
		if path == "/api/openapi.json" {
			continue // the local stack's own
		}
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	slices.Sort(table)
	slices.Sort(documented)
	assert.Equal(t, documented, table)

	// Writes, and only writes, take an Idempotency-Key in the document.
	for _, r := range routes.Table {
		op := doc.Paths.Find(r.Path).GetOperation(r.Method)
		require.NotNil(t, op, r.Pattern())
		takesKey := op.Parameters.GetByInAndName("header", "Idempotency-Key") != nil
		assert.Equal(t, r.Write, takesKey, "%s: Write and the document's Idempotency-Key", r.Pattern())
		// A POST that only reads (a query too big for a URL) is no write,
		// nor is the MCP endpoint's JSON-RPC, which has no Idempotency-Key.
		readOnlyPost := r.Name == "failures.similar" || r.Name == "mcp.serve"
		assert.Equal(t, r.Method != "GET" && !r.Public && !readOnlyPost, r.Write, r.Pattern())
		// The scope each operation needs is the route table's.
		want := r.Scope
		if want == "" {
			want = "any"
		}
		if r.Public {
			assert.Nil(t, op.Extensions["x-scope"], r.Pattern())
		} else {
			assert.Equal(t, want, op.Extensions["x-scope"], "%s: x-scope", r.Pattern())
		}
		// Public routes, and only they, take no API key in the document.
		assert.Equal(t, r.Public, op.Security != nil && len(*op.Security) == 0, "%s: Public and the document's security", r.Pattern())
	}
}

// Every handler has a route in the table, and every route a handler: a
// handler added without its route, or a route without its handler, fails
// here (New would also panic at startup on the second).
func TestEveryHandlerHasARoute(t *testing.T) {
	var table []string
	for _, r := range routes.Table {
		table = append(table, r.Name)
	}
	names := handlers.Names()
	slices.Sort(table)
	slices.Sort(names)
	assert.Equal(t, table, names)
}

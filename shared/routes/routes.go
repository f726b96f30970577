// Package routes is the API's route table: every route once, with the
// function that serves it in AWS and whether it is a write. The handlers are
// mounted from it (handlers.New), the CDK stack makes one API Gateway
// method per route from it, and tests hold the OpenAPI document, the
// contract page and the security tests to it. Adding a route is a line
// here and its handler.
package routes

// The functions that serve routes.
const (
	Workflow = "workflow"
	Approval = "approval"
	Results  = "results"
	MCP      = "mcp"
)

// The scopes routes need; package access defines them.
const (
	Read     = "read"
	Write    = "write"
	Decide   = "decide"
	ScopeMCP = "mcp"
)

// Route is one route. Every route needs the x-api-key header.
type Route struct {
	Method, Path string
	// Name is the handler's name, "<package>.<handler>".
	Name string
	// Function serves the route behind API Gateway. Every HTTP function
	// also serves the routes marked Everywhere, which API Gateway sends to
	// Function.
	Function   string
	Everywhere bool
	// Write routes take an Idempotency-Key.
	Write bool
	// Public routes take no API key: the approval page, whose link is the
	// credential. API Gateway throttles them tighter than the API.
	Public bool
	// Scope is what the calling client needs (package access): "read",
	// "write", "decide" or "mcp"; "" for any valid key (health, metrics)
	// and for public routes.
	Scope string
}

// Pattern is the route's http.ServeMux pattern.
func (r Route) Pattern() string { return r.Method + " " + r.Path }

// Table is every route of the API.
var Table = []Route{
	{"POST", "/api/workflow/state", "workflow.save", Workflow, false, true, false, Write},
	{"GET", "/api/workflow/state", "workflow.list", Workflow, false, false, false, Read},
	{"GET", "/api/workflow/state/{workflow_id}", "workflow.get", Workflow, false, false, false, Read},
	{"PATCH", "/api/workflow/state/{workflow_id}", "workflow.patch", Workflow, false, true, false, Write},
	{"DELETE", "/api/workflow/state/{workflow_id}", "workflow.delete", Workflow, false, true, false, Write},
	{"GET", "/api/workflow/state/{workflow_id}/history", "workflow.history", Workflow, false, false, false, Read},
	{"POST", "/api/lock/{resource_id}", "lock.acquire", Workflow, false, true, false, Write},
	{"PUT", "/api/lock/{resource_id}", "lock.extend", Workflow, false, true, false, Write},
	{"DELETE", "/api/lock/{resource_id}", "lock.release", Workflow, false, true, false, Write},
	{"POST", "/api/approval", "approval.create", Approval, false, true, false, Write},
	{"GET", "/api/approval", "approval.list", Approval, false, false, false, Read},
	{"GET", "/api/approval/{approval_id}", "approval.get", Approval, false, false, false, Read},
	{"POST", "/api/approval/{approval_id}/decision", "approval.decide", Approval, false, true, false, Decide},
	{"GET", "/api/approval/{approval_id}/audit", "approval.audit", Approval, false, false, false, Read},
	{"POST", "/api/results", "results.create", Results, false, true, false, Write},
	{"GET", "/api/results", "results.list", Results, false, false, false, Read},
	{"GET", "/api/results/{test_id}", "results.get", Results, false, false, false, Read},
	{"GET", "/api/tests/history", "tests.history", Results, false, false, false, Read},
	{"GET", "/api/tests/flaky", "tests.flaky", Results, false, false, false, Read},
	{"GET", "/api/failures", "failures.list", Results, false, false, false, Read},
	{"POST", "/api/failures/similar", "failures.similar", Results, false, false, false, Read},
	{"GET", "/api/health", "health.get", Workflow, true, false, false, ""},
	{"GET", "/api/metrics", "metrics.get", Workflow, true, false, false, ""},
	{"GET", "/approve/{token}", "approve.page", Approval, false, false, true, ""},
	{"POST", "/approve/{token}", "approve.vote", Approval, false, false, true, ""},
	{"POST", "/mcp", "mcp.serve", MCP, false, false, false, ScopeMCP},
}

// Tool is one tool of the MCP server at POST /mcp: it calls the service of
// one route of Table, and costs what that route costs.
type Tool struct {
	Name string
	// Route is the name of the route in Table whose service it calls.
	Route string
	// ReadOnly, Idempotent and Destructive are its MCP annotations
	// (readOnlyHint, idempotentHint, destructiveHint). No tool decides an
	// approval or deletes anything.
	ReadOnly, Idempotent, Destructive bool
}

// Tools is every tool of the MCP server.
var Tools = []Tool{
	{"workflow_get", "workflow.get", true, true, false},
	{"workflow_update", "workflow.patch", false, false, true}, // it can overwrite status, stage and metadata
	{"workflow_history", "workflow.history", true, true, false},
	{"approval_request", "approval.create", false, false, false},
	{"approval_get", "approval.get", true, true, false},
	{"approval_wait", "approval.get", true, true, false},
	{"results_record", "results.create", false, false, false},
	{"tests_flaky", "tests.flaky", true, true, false},
	{"failures_similar", "failures.similar", true, true, false},
}

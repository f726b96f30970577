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
}

// Pattern is the route's http.ServeMux pattern.
func (r Route) Pattern() string { return r.Method + " " + r.Path }

// Table is every route of the API.
var Table = []Route{
	{"POST", "/api/workflow/state", "workflow.save", Workflow, false, true, false},
	{"GET", "/api/workflow/state", "workflow.list", Workflow, false, false, false},
	{"GET", "/api/workflow/state/{workflow_id}", "workflow.get", Workflow, false, false, false},
	{"PATCH", "/api/workflow/state/{workflow_id}", "workflow.patch", Workflow, false, true, false},
	{"DELETE", "/api/workflow/state/{workflow_id}", "workflow.delete", Workflow, false, true, false},
	{"GET", "/api/workflow/state/{workflow_id}/history", "workflow.history", Workflow, false, false, false},
	{"POST", "/api/lock/{resource_id}", "lock.acquire", Workflow, false, true, false},
	{"PUT", "/api/lock/{resource_id}", "lock.extend", Workflow, false, true, false},
	{"DELETE", "/api/lock/{resource_id}", "lock.release", Workflow, false, true, false},
	{"POST", "/api/approval", "approval.create", Approval, false, true, false},
	{"GET", "/api/approval", "approval.list", Approval, false, false, false},
	{"GET", "/api/approval/{approval_id}", "approval.get", Approval, false, false, false},
	{"POST", "/api/approval/{approval_id}/decision", "approval.decide", Approval, false, true, false},
	{"GET", "/api/approval/{approval_id}/audit", "approval.audit", Approval, false, false, false},
	{"POST", "/api/results", "results.create", Results, false, true, false},
	{"GET", "/api/results", "results.list", Results, false, false, false},
	{"GET", "/api/results/{test_id}", "results.get", Results, false, false, false},
	{"GET", "/api/tests/history", "tests.history", Results, false, false, false},
	{"GET", "/api/tests/flaky", "tests.flaky", Results, false, false, false},
	{"GET", "/api/failures", "failures.list", Results, false, false, false},
	{"POST", "/api/failures/similar", "failures.similar", Results, false, false, false},
	{"GET", "/api/health", "health.get", Workflow, true, false, false},
	{"GET", "/api/metrics", "metrics.get", Workflow, true, false, false},
	{"GET", "/approve/{token}", "approve.page", Approval, false, false, true},
	{"POST", "/approve/{token}", "approve.vote", Approval, false, false, true},
}

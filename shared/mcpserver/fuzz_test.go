package mcpserver_test

import (
	"context"
	"testing"

	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/mcpserver"
	"github.com/ai-rails/state-service/shared/routes"
	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
)

// FuzzToolArguments feeds arbitrary arguments to every tool, over the
// real service on miniredis: no input panics, and none that is refused is
// the server's fault (5xx): bad arguments are problems of the 4xx kind.
func FuzzToolArguments(f *testing.F) {
	for _, s := range []string{
		`{"workflow_id":"ABC-123456"}`, `{"workflow_id":"ABC-123456","status":"in_progress","metadata":{"a":null},"expected_version":1}`,
		`{"workflow_id":"ABC-123456","request_type":"deploy","content":"x","requester":"a","approvers":["b"],"remind_after_seconds":[60],"on_timeout":"rejected"}`,
		`{"approval_id":"3f0c6a8e-5b7d-4c1e-9a2b-1d2e3f4a5b6c","timeout_seconds":1}`,
		`{"workflow_id":"ABC-123456","test_suite":"unit","format":"json","report":"{\"passed\":1,\"failed\":0,\"skipped\":0,\"duration_seconds\":1}"}`,
		`{"workflow_id":"ABC-123456","test_suite":"unit","format":"junit","report":"<testsuite><testcase name=\"a\"/></testsuite>"}`,
		`{"test_suite":"unit","limit":3}`, `{"text":"expected 1, got 2","k":2}`, `null`, `[]`, `{"workflow_id":"ABC-123456","workflow_id":"ABC-123456"}`,
	} {
		for i := range routes.Tools {
			f.Add(uint8(i), []byte(s))
		}
	}
	e := servicetest.NewWith(f, upstashtest.Mini(f), nil)
	svc := e.Service.Services
	s := mcpserver.Services{Workflows: svc.Workflows, Approvals: svc.Approvals, Results: svc.Results, TestHistory: svc.TestHistory,
		Failures: svc.Failures, Now: e.Clock.Now}
	e.Do(servicetest.Req{Method: "POST", Path: "/api/workflow/state", Body: map[string]any{"workflow_id": "ABC-123456", "feature_description": "x"}})
	f.Fuzz(func(t *testing.T, which uint8, args []byte) {
		tool := routes.Tools[int(which)%len(routes.Tools)]
		// approval_wait waits only on an approval that exists, whose id the
		// fuzzer cannot guess: an unknown one answers at once.
		_, err := mcpserver.Call(context.Background(), s, tool.Name, args)
		if err == nil {
			return
		}
		if p, _ := httpkit.ProblemFor(err); p.Status >= 500 {
			t.Fatalf("%s(%s): %d %s: %v", tool.Name, args, p.Status, p.Detail, err)
		}
	})
}

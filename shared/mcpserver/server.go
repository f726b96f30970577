// Package mcpserver is the service's MCP server, at POST /mcp: the tools of
// routes.Tools over the MCP Streamable HTTP transport, stateless and
// answering JSON (no SSE stream), so that any Lambda instance answers any
// call and API Gateway, which does not stream, can carry it. Built on the
// official Go SDK. Every tool calls the service of its REST route with the
// route's own validation: there is no second implementation. A failed call
// is a tool result with isError and the route's problem detail.
package mcpserver

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ai-rails/state-service/shared/access"
	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/approval"
	"github.com/ai-rails/state-service/shared/failures"
	"github.com/ai-rails/state-service/shared/handlers"
	"github.com/ai-rails/state-service/shared/health"
	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/jsondoc"
	"github.com/ai-rails/state-service/shared/observe"
	"github.com/ai-rails/state-service/shared/results"
	"github.com/ai-rails/state-service/shared/routes"
	"github.com/ai-rails/state-service/shared/testhistory"
	"github.com/ai-rails/state-service/shared/workflow"
)

// Services are what the tools call: the services of their REST routes.
type Services struct {
	Workflows   workflow.Service
	Approvals   *approval.Service
	Results     results.Service
	TestHistory testhistory.Service
	Failures    failures.Service
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (s Services) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// Options are the server's settings.
type Options struct {
	// Version is the service's version, which initialize answers.
	Version string
	// Logger logs the transport's own errors; nil discards them.
	Logger *slog.Logger
}

// Name is the server's name in initialize.
const Name = "ai-rails-state"

// instructions tell a client's model what the server is for.
const instructions = `AI Rails' state service: the state of test-driven development workflows, human approvals, and test results with the memory of past failures.
Read a workflow with workflow_get before changing it with workflow_update, and pass the version you read as expected_version.
To ask people for approval, call approval_request, then approval_wait until final is true: each call waits up to 25 seconds. You cannot decide approvals and never see the approvers' links.
Before treating a failing test as real, check tests_flaky; to learn whether a failure was seen before, call failures_similar.`

// maxRequest bounds a request to /mcp: a report of MaxBodyBytes, escaped
// as a JSON string, and its envelope.
const maxRequest = 2*httpkit.MaxBodyBytes + 64<<10

// FromHandlers is the MCP endpoint over the services the REST handlers
// call: wiring.Options.MCP.
func FromHandlers(s handlers.Services, c handlers.Config) http.Handler {
	return Handler(Services{Workflows: s.Workflows, Approvals: s.Approvals, Results: s.Results,
		TestHistory: s.TestHistory, Failures: s.Failures, Now: c.Now}, Options{Version: health.Version, Logger: c.Logger})
}

// Handler returns the MCP endpoint over the services.
func Handler(s Services, o Options) http.Handler {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	srv := mcp.NewServer(&mcp.Implementation{Name: Name, Title: "AI Rails state service", Version: o.Version},
		&mcp.ServerOptions{Instructions: instructions, Logger: logger})
	for _, t := range mustTools() {
		srv.AddTool(t.tool, t.handler(s))
	}
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv },
		&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true, Logger: logger})
	return http.MaxBytesHandler(jsonRPCErrors(h), maxRequest)
}

// jsonRPCErrors answers a body that is not JSON with JSON-RPC's parse
// error (-32700), JSON that is not one JSON-RPC message with its invalid
// request (-32600), and a method the server does not have with its method
// not found (-32601), where the SDK's transport answers plain text.
func jsonRPCErrors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "the request exceeds "+strconv.Itoa(maxRequest)+" bytes", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var m struct {
			JSONRPC string          `json:"jsonrpc"`
			ID      json.RawMessage `json:"id"`
			Method  *string         `json:"method"`
			Result  json.RawMessage `json:"result"`
			Error   json.RawMessage `json:"error"`
		}
		err = json.Unmarshal(body, &m)
		var syntax *json.SyntaxError
		switch {
		case errors.As(err, &syntax):
			rpcError(w, nil, -32700, "Parse error: the body is not JSON")
		case err != nil || m.JSONRPC != "2.0" || (m.Method == nil && m.Result == nil && m.Error == nil):
			rpcError(w, nil, -32600, "Invalid Request: send one JSON-RPC 2.0 message, an object with \"jsonrpc\": \"2.0\"")
		default:
			rec := &recorder{header: http.Header{}}
			next.ServeHTTP(rec, r)
			if rec.status == http.StatusBadRequest && strings.HasPrefix(rec.header.Get("Content-Type"), "text/plain") && m.Method != nil && len(m.ID) > 0 {
				code := -32600
				if strings.Contains(rec.body.String(), "not handled") {
					code = -32601
				}
				rpcError(w, m.ID, code, strings.TrimSpace(rec.body.String()))
				return
			}
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.status)
			_, _ = w.Write(rec.body.Bytes())
		}
	})
}

// recorder holds an answer of the SDK's transport, which answers JSON
// (no stream) and so can be held.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func rpcError(w http.ResponseWriter, id json.RawMessage, code int, message string) {
	var rid any
	if len(id) > 0 {
		rid = id
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": rid, "error": map[string]any{"code": code, "message": message}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(body)
}

// spec is a tool as tools.json describes it.
type spec struct {
	Title       string          `json:"title"`
	Description string          `json:"description"`
	Input       json.RawMessage `json:"input"`
	// Output names the schema of the OpenAPI document (components) that
	// its answer follows; outputs.json holds it, with its definitions.
	Output string `json:"output"`
}

var (
	//go:embed tools.json
	toolsJSON []byte
	//go:embed outputs.json
	outputsJSON []byte
)

// boundTool is a tool ready to add: its definition, its implementation,
// and the scope of its REST route, which the caller needs beside mcp.
type boundTool struct {
	tool  *mcp.Tool
	call  call
	scope access.Scope
}

// tools reads the tools' definitions once: routes.Tools, with their
// descriptions and input schemas from tools.json and their output schemas
// from outputs.json.
var tools = sync.OnceValues(func() ([]boundTool, error) {
	var specs map[string]spec
	if err := json.Unmarshal(toolsJSON, &specs); err != nil {
		return nil, fmt.Errorf("mcpserver: tools.json: %w", err)
	}
	var outputs map[string]json.RawMessage
	if err := json.Unmarshal(outputsJSON, &outputs); err != nil {
		return nil, fmt.Errorf("mcpserver: outputs.json: %w", err)
	}
	scopes := map[string]string{}
	for _, r := range routes.Table {
		scopes[r.Name] = r.Scope
	}
	out := make([]boundTool, 0, len(routes.Tools))
	for _, t := range routes.Tools {
		sp, ok := specs[t.Name]
		c := calls[t.Name]
		schema := outputs[sp.Output]
		if !ok || c == nil || schema == nil {
			return nil, fmt.Errorf("mcpserver: tool %s lacks a spec, an implementation or its output schema %q", t.Name, sp.Output)
		}
		destructive, openWorld := t.Destructive, false
		out = append(out, boundTool{call: c, scope: access.Scope(scopes[t.Route]), tool: &mcp.Tool{
			Name: t.Name, Title: sp.Title, Description: sp.Description,
			InputSchema: sp.Input, OutputSchema: schema,
			Annotations: &mcp.ToolAnnotations{Title: sp.Title, ReadOnlyHint: t.ReadOnly, IdempotentHint: t.Idempotent,
				DestructiveHint: &destructive, OpenWorldHint: &openWorld},
		}})
	}
	return out, nil
})

func mustTools() []boundTool {
	t, err := tools()
	if err != nil {
		panic(err)
	}
	return t
}

// handler runs the tool: its answer is the structured content, and the
// same JSON as text for clients that read only text; its error, a result
// with isError and the problem detail as text.
func (t boundTool) handler(s Services) mcp.ToolHandler {
	return func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if err := access.Check(ctx, t.scope); err != nil {
			return toolError(ctx, t.tool.Name, err), nil
		}
		out, err := t.call(ctx, s, req.Params.Arguments)
		if err != nil {
			return toolError(ctx, t.tool.Name, err), nil
		}
		// As the REST route writes it: no HTML escaping.
		body, err := jsondoc.Marshal(out)
		if err != nil {
			return toolError(ctx, t.tool.Name, err), nil
		}
		return &mcp.CallToolResult{StructuredContent: json.RawMessage(body), Content: []mcp.Content{&mcp.TextContent{Text: string(body)}}}, nil
	}
}

// toolError is a failed call's result: isError, and the problem detail the
// REST route would answer, as text. It carries no structured content, which
// would have to follow the output schema.
func toolError(ctx context.Context, name string, err error) *mcp.CallToolResult {
	p, retry := httpkit.ProblemFor(err)
	if p.Status >= 500 {
		observe.Logger(ctx).Error("tool call failed", "tool", name, "status", p.Status, "error", err)
	}
	if retry > 0 {
		if p.Extra == nil {
			p.Extra = map[string]any{}
		}
		p.Extra["retry_after_seconds"] = retry
	}
	body, merr := json.Marshal(p)
	if merr != nil {
		body = []byte(`{"type":"` + httpkit.ProblemTypePrefix + `internal","title":"Internal error","status":500}`)
	}
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: string(body)}}}
}

// detailOf is an error's problem detail.
func detailOf(err error) string {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae.Detail
	}
	return err.Error()
}

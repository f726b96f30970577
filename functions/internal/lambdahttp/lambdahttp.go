// Package lambdahttp starts an HTTP function in AWS Lambda: it reads the
// configuration once, at cold start, builds the store client and the API,
// and serves API Gateway (REST API, v1 proxy) events through the awslabs
// adapter.
package lambdahttp

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/handlers"
	"github.com/ai-rails/state-service/shared/routes"
	"github.com/ai-rails/state-service/shared/wiring"
)

// Function describes an HTTP function: it serves the routes the route
// table (package routes) gives its name.
type Function struct {
	Name string
	// Webhooks is true for a function that sends approval webhooks, which
	// then needs WEBHOOK_SECRET_SECRET_ARN (or WEBHOOK_SECRET under sam local).
	Webhooks bool
	// MCP makes the MCP endpoint: the mcp function's main sets it
	// (mcpserver.FromHandlers), so that no other function links the SDK.
	MCP func(handlers.Services, handlers.Config) http.Handler
}

// Functions are the HTTP functions, by name. Each serves the routes the
// route table gives it, and a test holds them to that.
var Functions = map[string]Function{
	routes.Workflow: {Name: routes.Workflow},
	routes.Approval: {Name: routes.Approval, Webhooks: true},
	routes.Results:  {Name: routes.Results},
	routes.MCP:      {Name: routes.MCP, Webhooks: true},
}

// Handler builds the function's API from the environment. Logs and EMF
// metric lines go to out.
func Handler(ctx context.Context, lookup func(string) (string, bool), out io.Writer, fn Function) (http.Handler, error) {
	svc, err := Wire(ctx, lookup, out, fn)
	if err != nil {
		return nil, err
	}
	return svc.Handler(fn.Name), nil
}

// Wire reads the configuration once, at cold start, and wires the whole
// service for fn (package wiring): the store client (its token from Secrets
// Manager in AWS), the key schema, the logger, the metric counters and, for
// webhooks, the signing secret.
func Wire(ctx context.Context, lookup func(string) (string, bool), out io.Writer, fn Function) (*wiring.Service, error) {
	cfg, err := config.Read(lookup, false)
	if err != nil {
		return nil, err
	}
	return wiring.Build(ctx, cfg, wiring.Options{Function: fn.Name, Webhooks: fn.Webhooks, Out: out, EMF: true, MCP: fn.MCP,
		GatewayKeyID: gatewayKeyID})
}

// gatewayKeyID is the id of the API key API Gateway accepted for the
// request (its proxy event's requestContext.identity.apiKeyId).
func gatewayKeyID(r *http.Request) string {
	gc, ok := core.GetAPIGatewayContextFromContext(r.Context())
	if !ok {
		return ""
	}
	return gc.Identity.APIKeyID
}

// Start builds the handler and serves Lambda invocations; it does not
// return. A configuration error ends the process, so that Lambda reports a
// failed init rather than serving errors.
func Start(fn Function) {
	h, err := Handler(context.Background(), os.LookupEnv, os.Stdout, fn)
	if err != nil {
		fmt.Fprintln(os.Stderr, "init:", err)
		os.Exit(1)
	}
	lambda.Start(httpadapter.New(h).ProxyWithContext)
}

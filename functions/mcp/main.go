// Command mcp is the MCP Lambda function: the MCP server at POST /mcp
// (API.md, "MCP"), stateless with JSON answers, plus GET /api/health and
// GET /api/metrics. Its approval tools send approval.requested through the
// outbox, so it signs webhooks as the approval function does. It alone
// links the MCP SDK.
package main

import (
	"github.com/ai-rails/state-service/functions/internal/lambdahttp"
	"github.com/ai-rails/state-service/shared/mcpserver"
)

func main() {
	fn := lambdahttp.Functions["mcp"]
	fn.MCP = mcpserver.FromHandlers
	lambdahttp.Start(fn)
}

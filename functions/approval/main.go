// Command approval is the approval Lambda function: human approvals with
// signed webhooks (API.md), plus GET /api/health and GET /api/metrics.
package main

import (
	"github.com/ai-rails/state-service/functions/internal/lambdahttp"
	"github.com/ai-rails/state-service/shared/api"
	"github.com/ai-rails/state-service/shared/approval"
)

func main() {
	lambdahttp.Start(lambdahttp.Function{Name: "approval", Mounts: []api.Mount{approval.Mount}, Webhooks: true})
}

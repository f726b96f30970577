// Command workflow is the workflow Lambda function: workflow state and locks
// (API.md), plus GET /api/health and GET /api/metrics as every function serves.
package main

import (
	"github.com/ai-rails/state-service/functions/internal/lambdahttp"
	"github.com/ai-rails/state-service/shared/api"
	"github.com/ai-rails/state-service/shared/lock"
	"github.com/ai-rails/state-service/shared/workflow"
)

func main() {
	lambdahttp.Start(lambdahttp.Function{Name: "workflow", Mounts: []api.Mount{workflow.Mount, lock.Mount}})
}

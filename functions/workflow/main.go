// Command workflow is the workflow Lambda function: workflow state and locks
// (API.md), plus GET /api/health and GET /api/metrics as every function serves.
package main

import "github.com/ai-rails/state-service/functions/internal/lambdahttp"

func main() { lambdahttp.Start(lambdahttp.Functions["workflow"]) }

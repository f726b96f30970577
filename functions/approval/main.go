// Command approval is the approval Lambda function: human approvals with
// signed webhooks (API.md), plus GET /api/health and GET /api/metrics.
package main

import "github.com/ai-rails/state-service/functions/internal/lambdahttp"

func main() { lambdahttp.Start(lambdahttp.Functions["approval"]) }

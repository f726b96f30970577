// Command results is the results Lambda function: test results from JSON,
// JUnit XML or go test -json (API.md), plus GET /api/health and
// GET /api/metrics.
package main

import "github.com/ai-rails/state-service/functions/internal/lambdahttp"

func main() { lambdahttp.Start(lambdahttp.Functions["results"]) }

// Command results is the results Lambda function. For now it serves what
// every function serves: GET /api/health and GET /api/metrics.
package main

import "github.com/ai-rails/state-service/functions/internal/lambdahttp"

func main() { lambdahttp.Start(lambdahttp.Function{Name: "results"}) }

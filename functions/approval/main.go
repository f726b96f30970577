// Command approval is the approval Lambda function. It serves its routes of API.md
// behind API Gateway, and GET /api/health as every function does.
package main

import "github.com/ai-rails/state-service/functions/internal/lambdahttp"

func main() { lambdahttp.Start("approval") }

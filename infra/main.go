// Command infra is the CDK app: `make synth` runs it through the aws-cdk
// CLI. Settings come from CDK context (cdk.json, or -c name=value): stage,
// upstashUrl, upstashTokenSecretArn, webhookSecretArn, codeDir, and the
// rest of statestack.StateStackProps.
package main

import (
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/ai-rails/state-service/infra/statestack"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	stage, _ := app.Node().TryGetContext(jsii.String("stage")).(string)
	if stage == "" {
		stage = "prod"
	}
	var env *awscdk.Environment
	if acct, region := os.Getenv("CDK_DEFAULT_ACCOUNT"), os.Getenv("CDK_DEFAULT_REGION"); acct != "" && region != "" {
		env = &awscdk.Environment{Account: jsii.String(acct), Region: jsii.String(region)}
	}
	statestack.NewStateStack(app, "AiRailsState-"+stage, &statestack.StateStackProps{StackProps: awscdk.StackProps{Env: env}})
	app.Synth(nil)
}

// Package lambdahttp starts an HTTP function in AWS Lambda: it reads the
// configuration once, at cold start, builds the store client and the API,
// and serves API Gateway (REST API, v1 proxy) events through the awslabs
// adapter.
package lambdahttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/ai-rails/state-service/shared/api"
	"github.com/ai-rails/state-service/shared/approval"
	"github.com/ai-rails/state-service/shared/awssecrets"
	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/health"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/lock"
	"github.com/ai-rails/state-service/shared/metrics"
	"github.com/ai-rails/state-service/shared/observe"
	"github.com/ai-rails/state-service/shared/results"
	"github.com/ai-rails/state-service/shared/routes"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/workflow"
)

// Function describes an HTTP function.
type Function struct {
	Name   string
	Mounts []api.Mount
	// Webhooks is true for a function that sends approval webhooks, which
	// then needs WEBHOOK_SECRET_SECRET_ARN (or WEBHOOK_SECRET under sam local).
	Webhooks bool
}

// Functions are the HTTP functions, by name: what each mounts. Each serves
// the routes the route table (package routes) gives it, and a test holds
// them to that.
var Functions = map[string]Function{
	routes.Workflow: {Name: routes.Workflow, Mounts: []api.Mount{workflow.Mount, lock.Mount}},
	routes.Approval: {Name: routes.Approval, Mounts: []api.Mount{approval.Mount}, Webhooks: true},
	routes.Results:  {Name: routes.Results, Mounts: []api.Mount{results.Mount}},
}

// Handler builds the function's API from the environment. Logs and EMF
// metric lines go to out.
func Handler(ctx context.Context, lookup func(string) (string, bool), out io.Writer, fn Function) (http.Handler, error) {
	d, err := Setup(ctx, lookup, out, fn)
	if err != nil {
		return nil, err
	}
	return api.Handler(d, fn.Mounts...), nil
}

// Setup reads the configuration and builds what a function uses: the store
// client (its token from Secrets Manager in AWS), the key schema, the
// logger, the metric counters and, for webhooks, the signing secret.
func Setup(ctx context.Context, lookup func(string) (string, bool), out io.Writer, fn Function) (api.Deps, error) {
	function := fn.Name
	env := config.NewEnv(lookup)
	st := config.ReadStore(env)
	ap := config.ReadApprovals(env, false)
	if fn.Webhooks && ap.WebhookSecret == "" && ap.WebhookSecretARN == "" {
		env.Fail(errors.New("set WEBHOOK_SECRET_SECRET_ARN (in AWS) or WEBHOOK_SECRET (locally): approval webhooks are signed"))
	}
	level := env.String("LOG_LEVEL", "info")
	flushEvery := env.Duration("METRICS_FLUSH_INTERVAL", 5*time.Second)
	function = env.String("AWS_LAMBDA_FUNCTION_NAME", function)
	if err := env.Err(); err != nil {
		return api.Deps{}, err
	}
	logger, err := observe.NewLogger(out, level)
	if err != nil {
		return api.Deps{}, err
	}
	token, secret := st.Token, ap.WebhookSecret
	if st.TokenSecretARN != "" || (fn.Webhooks && ap.WebhookSecretARN != "") {
		awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return api.Deps{}, fmt.Errorf("load AWS config: %w", err)
		}
		sm := secretsmanager.NewFromConfig(awsCfg)
		if st.TokenSecretARN != "" {
			if token, err = awssecrets.Fetch(ctx, sm, st.TokenSecretARN, "token"); err != nil {
				return api.Deps{}, err
			}
		}
		if fn.Webhooks && ap.WebhookSecretARN != "" {
			if secret, err = awssecrets.Fetch(ctx, sm, ap.WebhookSecretARN, "secret"); err != nil {
				return api.Deps{}, err
			}
		}
	}
	schema, err := keys.New(st.KeyPrefix)
	if err != nil {
		return api.Deps{}, err
	}
	counters := metrics.NewCounters(schema, nil, flushEvery)
	opts := upstash.Options{URL: st.URL, Token: token, Logger: logger}
	metrics.Instrument(&opts, counters)
	client, err := upstash.New(opts)
	if err != nil {
		return api.Deps{}, err
	}
	return api.Deps{
		Store: client, Keys: schema, Logger: logger, Backend: backendOf(st.URL),
		APIKey: env.String("API_KEY", ""), Metrics: counters, Function: function, EMF: out,
		Approvals: api.NewApprovals(ap, secret, nil),
	}, nil
}

// backendOf names the store for health: a loopback endpoint is the local
// stack's REST server (sam local against make run).
func backendOf(storeURL string) string {
	if u, err := url.Parse(storeURL); err == nil && upstash.IsLoopback(u.Hostname()) {
		return health.BackendLocal
	}
	return health.BackendUpstash
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

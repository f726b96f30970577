// Package statestack is the AWS CDK stack of the state service: four Lambda
// functions behind an API Gateway REST API with an API key and a usage plan,
// EventBridge schedules for the sweeper, the S3 backup bucket, the secrets,
// alarms and a dashboard.
package statestack

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdadestinations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awswafv2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/ai-rails/state-service/shared/routes"
)

// StateStackProps are the stack's settings. Zero fields take the CDK
// context's value of the same name (see Context), then the default.
type StateStackProps struct {
	awscdk.StackProps

	// Stage names the API stage and prefixes resource names. Default "prod".
	Stage string
	// UpstashURL is UPSTASH_REDIS_REST_URL. Required.
	UpstashURL string
	// UpstashTokenSecretARN and WebhookSecretARN name existing secrets; when
	// empty the stack makes new ones (put the Upstash token in yours after
	// the first deploy; the webhook secret is generated).
	UpstashTokenSecretARN string
	WebhookSecretARN      string
	// VectorURL is UPSTASH_VECTOR_REST_URL, the failure memory's Upstash
	// Vector index (512 dimensions, cosine; or an index with an embedding
	// model when VectorEmbedding is "upstash"). Optional: without it,
	// similar failures answer 503 and the rest of the memory works.
	VectorURL string
	// VectorTokenSecretARN names an existing secret holding the index's
	// token; when empty (and VectorURL is set) the stack makes one.
	VectorTokenSecretARN string
	// VectorEmbedding is VECTOR_EMBEDDING: "local" (default) or "upstash".
	VectorEmbedding string
	// CodeDir holds <function>.zip, as make build writes them. Default
	// "../build".
	CodeDir string
	// KeyPrefix is KEY_PREFIX. Default "ai_rails_".
	KeyPrefix string
	// CallbackHostAllowlist is CALLBACK_HOST_ALLOWLIST.
	CallbackHostAllowlist string
	// WAF (context waf "true") puts an AWS WAF web ACL in front of the
	// API: managed common rules and a rate limit per IP address.
	WAF bool
	// AlarmEmail (context alarmEmail), when set, is subscribed to the alarm
	// topic, which every alarm notifies.
	AlarmEmail string
	// ApprovalNotifyURL is APPROVAL_NOTIFY_URL (context approvalNotifyUrl),
	// https: the operator's endpoint that gets approval.requested and
	// reminders with the approvers' links. Optional: without it, the MCP
	// tool approval_request is refused.
	ApprovalNotifyURL string
	// Clients are the API's clients (context clients, JSON [{"name",
	// "scopes", "keys"}]): each gets its own API Gateway key (two with
	// "keys": 2, while one is rotated) and usage plan, and only its scopes.
	// Default: one client, n8n, with every scope.
	Clients []Client
	// AllowApproveOnTimeout is ALLOW_APPROVE_ON_TIMEOUT (context
	// allowApproveOnTimeout "true"): approvals may ask for on_timeout
	// approved. Off by default: an agent's deploy would pass by silence.
	AllowApproveOnTimeout bool
	// BackupRetentionDays is how long backups are kept. Default 30.
	BackupRetentionDays float64
	// SweepRate and BackupRate are the schedules. Defaults 5 minutes and
	// 1 hour.
	SweepRate, BackupRate awscdk.Duration
	// Usage plan limits. Defaults: 50 requests/s, bursts of 100, 100,000 a
	// day.
	ThrottleRate, ThrottleBurst, DailyQuota float64
	// Alarm thresholds. Defaults: 1 error, 1 throttle, a p99 of 3 s, 5
	// API 5xx answers, each over 5 minutes.
	ErrorThreshold, ThrottleThreshold, P99DurationMillis, Api5xxThreshold float64
}

// Function describes one Lambda function of the stack.
type Function struct {
	Name     string // "workflow", "approval", "results", "mcp", "sweeper"
	Memory   float64
	Timeout  float64 // seconds
	Webhooks bool
	// Vector functions reach the failure memory's vector index.
	Vector bool
	// Links functions make approvers' links: they get the link secret and
	// PUBLIC_BASE_URL. The sweeper sends them with approval.requested
	// retries and reminders to APPROVAL_NOTIFY_URL.
	Links bool
	// Creates functions create approvals: they get
	// ALLOW_APPROVE_ON_TIMEOUT when the stack allows it.
	Creates bool
	// Waits functions hold requests up to 25 s (GET
	// /api/approval/{id}?wait=N, the approval_wait tool): their timeout
	// covers it under API Gateway's 29 s, and their p99 duration alarm
	// counts from the longest wait.
	Waits bool
}

// Client is a client of the API: its name, scopes (read, write, decide,
// mcp, or *) and the generations of its keys: [1] at first; to rotate,
// [1, 2] while the client moves to key 2, then [2].
type Client struct {
	Name   string   `json:"name"`
	Scopes []string `json:"scopes"`
	Keys   []int    `json:"keys"`
}

var clientName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// checkClients fills the clients' defaults and validates them.
func checkClients(cs []Client) ([]Client, error) {
	if len(cs) == 0 {
		return []Client{{Name: "n8n", Scopes: []string{"*"}, Keys: []int{1}}}, nil
	}
	seen := map[string]bool{}
	for i := range cs {
		c := &cs[i]
		if len(c.Keys) == 0 {
			c.Keys = []int{1}
		}
		if !clientName.MatchString(c.Name) || seen[c.Name] {
			return nil, fmt.Errorf("clients[%d]: name %q must match %s, once", i, c.Name, clientName)
		}
		seen[c.Name] = true
		if len(c.Keys) > 2 || c.Keys[0] < 1 || (len(c.Keys) == 2 && (c.Keys[1] < 1 || c.Keys[1] == c.Keys[0])) {
			return nil, fmt.Errorf("clients[%d] (%s): keys lists one key generation, or two while one is rotated ([1], [1, 2], [2])", i, c.Name)
		}
		if len(c.Scopes) == 0 {
			return nil, fmt.Errorf("clients[%d] (%s): list its scopes: read, write, decide, mcp or *", i, c.Name)
		}
		for _, sc := range c.Scopes {
			switch sc {
			case "read", "write", "decide", "mcp", "*":
			default:
				return nil, fmt.Errorf("clients[%d] (%s): unknown scope %q", i, c.Name, sc)
			}
		}
	}
	return cs, nil
}

// backupPrefix is where the sweeper writes backups in the bucket.
const backupPrefix = "backups"

// MaxWaitSeconds is the longest wait a request may hold (approval.MaxWait).
const MaxWaitSeconds = 25

// Functions lists the five functions.
var Functions = []Function{
	{Name: "workflow", Memory: 256, Timeout: 10},
	{Name: "approval", Memory: 256, Timeout: 28, Webhooks: true, Links: true, Creates: true, Waits: true},
	{Name: "results", Memory: 512, Timeout: 15, Vector: true},
	{Name: "mcp", Memory: 256, Timeout: 28, Webhooks: true, Vector: true, Links: true, Creates: true, Waits: true},
	{Name: "sweeper", Memory: 512, Timeout: 300, Webhooks: true, Vector: true, Links: true},
}

func (p *StateStackProps) fill(scope constructs.Construct) error {
	ctx := func(name string) string {
		if v, ok := scope.Node().TryGetContext(jsii.String(name)).(string); ok {
			return v
		}
		return ""
	}
	str := func(dst *string, name, def string) {
		if *dst == "" {
			*dst = ctx(name)
		}
		if *dst == "" {
			*dst = def
		}
	}
	str(&p.Stage, "stage", "prod")
	str(&p.UpstashURL, "upstashUrl", "")
	str(&p.UpstashTokenSecretARN, "upstashTokenSecretArn", "")
	str(&p.WebhookSecretARN, "webhookSecretArn", "")
	str(&p.VectorURL, "upstashVectorUrl", "")
	str(&p.VectorTokenSecretARN, "upstashVectorTokenSecretArn", "")
	str(&p.VectorEmbedding, "vectorEmbedding", "local")
	str(&p.CodeDir, "codeDir", filepath.Join("..", "build"))
	str(&p.KeyPrefix, "keyPrefix", "ai_rails_")
	str(&p.CallbackHostAllowlist, "callbackHostAllowlist", "")
	str(&p.ApprovalNotifyURL, "approvalNotifyUrl", "")
	str(&p.AlarmEmail, "alarmEmail", "")
	if !p.WAF {
		p.WAF = ctx("waf") == "true"
	}
	if !p.AllowApproveOnTimeout {
		p.AllowApproveOnTimeout = ctx("allowApproveOnTimeout") == "true"
	}
	num := func(dst *float64, def float64) {
		if *dst == 0 {
			*dst = def
		}
	}
	num(&p.BackupRetentionDays, 30)
	num(&p.ThrottleRate, 50)
	num(&p.ThrottleBurst, 100)
	num(&p.DailyQuota, 100000)
	num(&p.ErrorThreshold, 1)
	num(&p.ThrottleThreshold, 1)
	num(&p.P99DurationMillis, 3000)
	num(&p.Api5xxThreshold, 5)
	if p.SweepRate == nil {
		p.SweepRate = awscdk.Duration_Minutes(jsii.Number(5))
	}
	if p.BackupRate == nil {
		p.BackupRate = awscdk.Duration_Hours(jsii.Number(1))
	}
	if !strings.HasPrefix(p.UpstashURL, "https://") {
		return fmt.Errorf("set the Upstash REST URL (props.UpstashURL or context upstashUrl), https://...: got %q", p.UpstashURL)
	}
	if p.VectorURL != "" && !strings.HasPrefix(p.VectorURL, "https://") {
		return fmt.Errorf("the Upstash Vector URL (props.VectorURL or context upstashVectorUrl) must be https://...: got %q", p.VectorURL)
	}
	if raw := ctx("clients"); len(p.Clients) == 0 && raw != "" {
		if err := json.Unmarshal([]byte(raw), &p.Clients); err != nil {
			return fmt.Errorf(`context clients: want JSON [{"name": "n8n", "scopes": ["read", "write"]}]: %w`, err)
		}
	}
	var err error
	if p.Clients, err = checkClients(p.Clients); err != nil {
		return err
	}
	if p.ApprovalNotifyURL != "" && !strings.HasPrefix(p.ApprovalNotifyURL, "https://") {
		return fmt.Errorf("the approval notification URL (props.ApprovalNotifyURL or context approvalNotifyUrl) must be https://...: got %q", p.ApprovalNotifyURL)
	}
	if p.VectorEmbedding != "local" && p.VectorEmbedding != "upstash" {
		return fmt.Errorf("vectorEmbedding must be local or upstash: got %q", p.VectorEmbedding)
	}
	return nil
}

// NewStateStack builds the stack.
func NewStateStack(scope constructs.Construct, id string, props *StateStackProps) awscdk.Stack {
	if props == nil {
		props = &StateStackProps{}
	}
	if err := props.fill(scope); err != nil {
		panic(err)
	}
	stack := awscdk.NewStack(scope, &id, &props.StackProps)
	s := &builder{stack: stack, p: props, fns: map[string]awslambda.Function{}}
	s.secrets()
	s.bucket()
	for _, f := range Functions {
		s.function(f)
	}
	s.api()
	s.schedules()
	s.firewall()
	s.alarms()
	s.outputs()
	s.nagSuppressions()
	return stack
}

type builder struct {
	stack   awscdk.Stack
	p       *StateStackProps
	fns     map[string]awslambda.Function
	token   awssecretsmanager.ISecret
	webhook awssecretsmanager.ISecret
	links   awssecretsmanager.ISecret
	// callbackJWT signs the JWT of every webhook.
	callbackJWT awssecretsmanager.ISecret
	vector      awssecretsmanager.ISecret // nil without a vector index
	backups     awss3.Bucket
	// failures holds the scheduled runs that failed.
	failures awssqs.Queue
	restAPI  awsapigateway.RestApi
	apiKey   awsapigateway.IApiKey
}

func (b *builder) name(s string) *string { return jsii.String("ai-rails-" + b.p.Stage + "-" + s) }

func (b *builder) secrets() {
	if b.p.UpstashTokenSecretARN != "" {
		b.token = awssecretsmanager.Secret_FromSecretCompleteArn(b.stack, jsii.String("UpstashToken"), &b.p.UpstashTokenSecretARN)
	} else {
		b.token = awssecretsmanager.NewSecret(b.stack, jsii.String("UpstashToken"), &awssecretsmanager.SecretProps{
			SecretName:  b.name("upstash-token"),
			Description: jsii.String("The Upstash REST token (UPSTASH_REDIS_REST_TOKEN): put it here, as the secret's string or as {\"token\": \"...\"}."),
		})
	}
	if b.p.WebhookSecretARN != "" {
		b.webhook = awssecretsmanager.Secret_FromSecretCompleteArn(b.stack, jsii.String("WebhookSecret"), &b.p.WebhookSecretARN)
	} else {
		b.webhook = awssecretsmanager.NewSecret(b.stack, jsii.String("WebhookSecret"), &awssecretsmanager.SecretProps{
			SecretName:  b.name("webhook-secret"),
			Description: jsii.String("Signs approval webhooks (X-AIRails-Signature-256)."),
			GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
				ExcludePunctuation: jsii.Bool(true), PasswordLength: jsii.Number(48),
			},
		})
	}
	switch {
	case b.p.VectorURL == "":
	case b.p.VectorTokenSecretARN != "":
		b.vector = awssecretsmanager.Secret_FromSecretCompleteArn(b.stack, jsii.String("UpstashVectorToken"), &b.p.VectorTokenSecretARN)
	default:
		b.vector = awssecretsmanager.NewSecret(b.stack, jsii.String("UpstashVectorToken"), &awssecretsmanager.SecretProps{
			SecretName:  b.name("upstash-vector-token"),
			Description: jsii.String("The Upstash Vector REST token (UPSTASH_VECTOR_REST_TOKEN): put it here, as the secret's string or as {\"token\": \"...\"}."),
		})
	}
	b.callbackJWT = awssecretsmanager.NewSecret(b.stack, jsii.String("CallbackJwtSecret"), &awssecretsmanager.SecretProps{
		SecretName:  b.name("callback-jwt-secret"),
		Description: jsii.String("Signs the Authorization: Bearer JWT (HS256) every webhook carries (CALLBACK_JWT_SECRET); n8n's Wait nodes check it with a JWT Auth credential."),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			ExcludePunctuation: jsii.Bool(true), PasswordLength: jsii.Number(48),
		},
	})
	b.links = awssecretsmanager.NewSecret(b.stack, jsii.String("ApprovalLinkSecret"), &awssecretsmanager.SecretProps{
		SecretName:  b.name("approval-link-secret"),
		Description: jsii.String("Keys approvers' link tokens (APPROVAL_LINK_SECRET); a new value invalidates every outstanding link."),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			ExcludePunctuation: jsii.Bool(true), PasswordLength: jsii.Number(48),
		},
	})
}

func (b *builder) bucket() {
	b.backups = awss3.NewBucket(b.stack, jsii.String("Backups"), &awss3.BucketProps{
		Versioned:         jsii.Bool(true),
		Encryption:        awss3.BucketEncryption_S3_MANAGED,
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(),
		EnforceSSL:        jsii.Bool(true),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		LifecycleRules: &[]*awss3.LifecycleRule{{
			Id:                                  jsii.String("expire-backups"),
			Prefix:                              jsii.String("backups/"),
			Expiration:                          awscdk.Duration_Days(jsii.Number(b.p.BackupRetentionDays)),
			NoncurrentVersionExpiration:         awscdk.Duration_Days(jsii.Number(7)),
			AbortIncompleteMultipartUploadAfter: awscdk.Duration_Days(jsii.Number(1)),
		}},
	})
}

func (b *builder) function(f Function) {
	id := strings.ToUpper(f.Name[:1]) + f.Name[1:]
	logs := awslogs.NewLogGroup(b.stack, jsii.String(id+"Logs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String("/aws/lambda/" + *b.name(f.Name)),
		Retention:     awslogs.RetentionDays_ONE_MONTH,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	env := map[string]*string{
		"UPSTASH_REDIS_REST_URL":              &b.p.UpstashURL,
		"UPSTASH_REDIS_REST_TOKEN_SECRET_ARN": b.token.SecretArn(),
		"KEY_PREFIX":                          &b.p.KeyPrefix,
		"LOG_LEVEL":                           jsii.String("info"),
	}
	if f.Webhooks {
		env["WEBHOOK_SECRET_SECRET_ARN"] = b.webhook.SecretArn()
		env["CALLBACK_JWT_SECRET_ARN"] = b.callbackJWT.SecretArn()
		if b.p.CallbackHostAllowlist != "" {
			env["CALLBACK_HOST_ALLOWLIST"] = &b.p.CallbackHostAllowlist
		}
	}
	if f.Links {
		env["APPROVAL_LINK_SECRET_ARN"] = b.links.SecretArn()
		if b.p.ApprovalNotifyURL != "" {
			env["APPROVAL_NOTIFY_URL"] = &b.p.ApprovalNotifyURL
		}
	}
	if f.Creates && b.p.AllowApproveOnTimeout {
		env["ALLOW_APPROVE_ON_TIMEOUT"] = jsii.String("true")
	}
	if f.Vector && b.vector != nil {
		env["UPSTASH_VECTOR_REST_URL"] = &b.p.VectorURL
		env["UPSTASH_VECTOR_REST_TOKEN_SECRET_ARN"] = b.vector.SecretArn()
		env["VECTOR_EMBEDDING"] = &b.p.VectorEmbedding
	}
	if f.Name == "sweeper" {
		env["BACKUP_BUCKET"] = b.backups.BucketName()
		env["BACKUP_PREFIX"] = jsii.String(backupPrefix)
	}
	fn := awslambda.NewFunction(b.stack, jsii.String(id), &awslambda.FunctionProps{
		FunctionName: b.name(f.Name),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(filepath.Join(b.p.CodeDir, f.Name+".zip")), nil),
		MemorySize:   jsii.Number(f.Memory),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(f.Timeout)),
		Tracing:      awslambda.Tracing_ACTIVE,
		LogGroup:     logs,
		Environment:  &env,
		Description:  jsii.String("AI Rails state service: " + f.Name),
	})
	b.token.GrantRead(fn, nil)
	if f.Webhooks {
		b.webhook.GrantRead(fn, nil)
		b.callbackJWT.GrantRead(fn, nil)
	}
	if f.Links {
		b.links.GrantRead(fn, nil)
	}
	if f.Vector && b.vector != nil {
		b.vector.GrantRead(fn, nil)
	}
	if f.Name == "sweeper" {
		// Only put objects under the backup prefix (a multipart upload's
		// parts are puts too, and an abandoned one may be aborted): no
		// delete of any kind, so neither a bug nor a stolen sweeper
		// credential can erase a backup or its versions. The lifecycle
		// rules expire them.
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions:   jsii.Strings("s3:PutObject", "s3:AbortMultipartUpload"),
			Resources: jsii.Strings(*b.backups.ArnForObjects(jsii.String(backupPrefix + "/*"))),
		}))
	}
	b.fns[f.Name] = fn
}

// Routes is the route table (package routes): one API Gateway method per
// route, integrated with the function that serves it.
var Routes = routes.Table

// Public routes (the approval page) take no API key, so no usage plan
// throttles them: the stage throttles them tighter than the API, per
// method.
const (
	PublicThrottleRate  = 5
	PublicThrottleBurst = 10
)

func publicThrottles() *map[string]*awsapigateway.MethodDeploymentOptions {
	m := map[string]*awsapigateway.MethodDeploymentOptions{}
	for _, rt := range Routes {
		if rt.Public {
			m[rt.Path+"/"+rt.Method] = &awsapigateway.MethodDeploymentOptions{
				ThrottlingRateLimit: jsii.Number(PublicThrottleRate), ThrottlingBurstLimit: jsii.Number(PublicThrottleBurst),
			}
		}
	}
	return &m
}

func (b *builder) api() {
	access := awslogs.NewLogGroup(b.stack, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention: awslogs.RetentionDays_ONE_MONTH, RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	b.restAPI = awsapigateway.NewRestApi(b.stack, jsii.String("Api"), &awsapigateway.RestApiProps{
		RestApiName: b.name("api"),
		Description: jsii.String("AI Rails state service (API.md)"),
		DeployOptions: &awsapigateway.StageOptions{
			StageName:            &b.p.Stage,
			TracingEnabled:       jsii.Bool(true),
			MetricsEnabled:       jsii.Bool(true),
			AccessLogDestination: awsapigateway.NewLogGroupLogDestination(access),
			AccessLogFormat: awsapigateway.AccessLogFormat_JsonWithStandardFields(&awsapigateway.JsonWithStandardFieldProps{
				Caller: jsii.Bool(false), HttpMethod: jsii.Bool(true), Ip: jsii.Bool(true), Protocol: jsii.Bool(true),
				RequestTime: jsii.Bool(true), ResourcePath: jsii.Bool(true), ResponseLength: jsii.Bool(true),
				Status: jsii.Bool(true), User: jsii.Bool(false),
			}),
			ThrottlingRateLimit:  jsii.Number(b.p.ThrottleRate),
			ThrottlingBurstLimit: jsii.Number(b.p.ThrottleBurst),
			MethodOptions:        publicThrottles(),
			// Execution logs: errors only, and never a request or response
			// body (data tracing off), so no body or key is ever logged.
			LoggingLevel:     awsapigateway.MethodLoggingLevel_ERROR,
			DataTraceEnabled: jsii.Bool(false),
		},
		DefaultMethodOptions: &awsapigateway.MethodOptions{ApiKeyRequired: jsii.Bool(true)},
		CloudWatchRole:       jsii.Bool(true),
	})
	resources := map[string]awsapigateway.IResource{"": b.restAPI.Root()}
	var resource func(path string) awsapigateway.IResource
	resource = func(path string) awsapigateway.IResource {
		if r, ok := resources[path]; ok {
			return r
		}
		i := strings.LastIndex(path, "/")
		r := resource(path[:i]).AddResource(jsii.String(path[i+1:]), nil)
		resources[path] = r
		return r
	}
	integrations := map[string]awsapigateway.LambdaIntegration{}
	for _, rt := range Routes {
		in, ok := integrations[rt.Function]
		if !ok {
			in = awsapigateway.NewLambdaIntegration(b.fns[rt.Function], nil)
			integrations[rt.Function] = in
		}
		var opts *awsapigateway.MethodOptions
		if rt.Public {
			// The approval page: its link is the credential, so no API key.
			opts = &awsapigateway.MethodOptions{ApiKeyRequired: jsii.Bool(false)}
		}
		resource(rt.Path).AddMethod(jsii.String(rt.Method), in, opts)
	}
	b.clients()
	// Approvers' links point at the stage. The URL is built from the API's
	// id, not its stage URL, which would depend on these functions (a cycle).
	for _, f := range Functions {
		if f.Links {
			b.fns[f.Name].AddEnvironment(jsii.String("PUBLIC_BASE_URL"), awscdk.Fn_Join(jsii.String(""), &[]*string{
				jsii.String("https://"), b.restAPI.RestApiId(), jsii.String(".execute-api."), b.stack.Region(),
				jsii.String("."), b.stack.UrlSuffix(), jsii.String("/" + b.p.Stage),
			}), nil)
		}
	}
}

// clients makes each client's API Gateway keys (one per generation it
// lists: two while one is rotated) and usage plan, and tells the HTTP functions which key id is which
// client, with its scopes (API_CLIENTS): API Gateway checks the key, the
// functions its scope. The first client keeps the construct ids of the
// stack's one key before clients existed, so that its key survives.
func (b *builder) clients() {
	var list []any // API_CLIENTS: [{"key_id", "name", "scopes"}]
	for i, c := range b.p.Clients {
		suffix := strings.ToUpper(c.Name[:1]) + strings.NewReplacer("-", "", "_", "", ".", "").Replace(c.Name[1:])
		planID, planName := "UsagePlan"+suffix, b.name("usage-plan-"+c.Name)
		if i == 0 {
			planID, planName = "UsagePlan", b.name("usage-plan")
		}
		plan := b.restAPI.AddUsagePlan(jsii.String(planID), &awsapigateway.UsagePlanProps{
			Name:     planName,
			Throttle: &awsapigateway.ThrottleSettings{RateLimit: jsii.Number(b.p.ThrottleRate), BurstLimit: jsii.Number(b.p.ThrottleBurst)},
			Quota:    &awsapigateway.QuotaSettings{Limit: jsii.Number(b.p.DailyQuota), Period: awsapigateway.Period_DAY},
		})
		plan.AddApiStage(&awsapigateway.UsagePlanPerApiStage{Api: b.restAPI, Stage: b.restAPI.DeploymentStage()})
		for _, k := range c.Keys {
			id, name := "ApiKey"+suffix, b.name(c.Name)
			if i == 0 && k == 1 {
				id = "ApiKey"
			}
			if k > 1 {
				id, name = id+strconv.Itoa(k), b.name(c.Name+"-"+strconv.Itoa(k))
			}
			// A key made under the API, not with its AddApiKey, which would
			// tie it to the stage: the functions' API_CLIENTS reads the key
			// ids, and the stage depends on the functions (a cycle). The
			// usage plan ties the key to the stage.
			key := awsapigateway.NewApiKey(b.restAPI, jsii.String(id), &awsapigateway.ApiKeyProps{ApiKeyName: name})
			plan.AddApiKey(key, nil)
			if b.apiKey == nil {
				b.apiKey = key
			}
			list = append(list, map[string]any{"key_id": key.KeyId(), "name": c.Name, "scopes": c.Scopes})
			awscdk.NewCfnOutput(b.stack, jsii.String(id+"Id"), &awscdk.CfnOutputProps{Value: key.KeyId(),
				Description: jsii.String("client " + c.Name + " (" + strings.Join(c.Scopes, ", ") + "): aws apigateway get-api-key --include-value --api-key <id>")})
		}
	}
	clients := b.stack.ToJsonString(list, nil)
	for _, f := range Functions {
		if f.Name != "sweeper" {
			b.fns[f.Name].AddEnvironment(jsii.String("API_CLIENTS"), clients, nil)
		}
	}
}

// WAFRateLimit is how many requests one IP address may make in 5 minutes
// when the web ACL is on; more are blocked until the rate falls.
const WAFRateLimit = 2000

// firewall puts an AWS WAF web ACL in front of the API stage when the
// context value waf is "true" (props.WAF): AWS's managed common rule set,
// and a rate-based rule per IP address. See infra/README.md for its cost.
func (b *builder) firewall() {
	if !b.p.WAF {
		return
	}
	visibility := func(name string) *awswafv2.CfnWebACL_VisibilityConfigProperty {
		return &awswafv2.CfnWebACL_VisibilityConfigProperty{CloudWatchMetricsEnabled: jsii.Bool(true),
			MetricName: jsii.String(name), SampledRequestsEnabled: jsii.Bool(true)}
	}
	acl := awswafv2.NewCfnWebACL(b.stack, jsii.String("WebAcl"), &awswafv2.CfnWebACLProps{
		Name:             b.name("api"),
		Scope:            jsii.String("REGIONAL"),
		DefaultAction:    &awswafv2.CfnWebACL_DefaultActionProperty{Allow: &awswafv2.CfnWebACL_AllowActionProperty{}},
		VisibilityConfig: visibility("ai-rails-" + b.p.Stage + "-api"),
		Rules: &[]any{
			&awswafv2.CfnWebACL_RuleProperty{
				Name: jsii.String("aws-common-rules"), Priority: jsii.Number(0),
				OverrideAction: &awswafv2.CfnWebACL_OverrideActionProperty{None: map[string]any{}},
				Statement: &awswafv2.CfnWebACL_StatementProperty{ManagedRuleGroupStatement: &awswafv2.CfnWebACL_ManagedRuleGroupStatementProperty{
					VendorName: jsii.String("AWS"), Name: jsii.String("AWSManagedRulesCommonRuleSet"),
				}},
				VisibilityConfig: visibility("aws-common-rules"),
			},
			&awswafv2.CfnWebACL_RuleProperty{
				Name: jsii.String("rate-per-ip"), Priority: jsii.Number(1),
				Action: &awswafv2.CfnWebACL_RuleActionProperty{Block: &awswafv2.CfnWebACL_BlockActionProperty{}},
				Statement: &awswafv2.CfnWebACL_StatementProperty{RateBasedStatement: &awswafv2.CfnWebACL_RateBasedStatementProperty{
					Limit: jsii.Number(WAFRateLimit), AggregateKeyType: jsii.String("IP"),
				}},
				VisibilityConfig: visibility("rate-per-ip"),
			},
		},
	})
	stage := b.restAPI.DeploymentStage()
	awswafv2.NewCfnWebACLAssociation(b.stack, jsii.String("WebAclAssociation"), &awswafv2.CfnWebACLAssociationProps{
		ResourceArn: stage.StageArn(), WebAclArn: acl.AttrArn(),
	})
}

func (b *builder) schedules() {
	// A scheduled run that fails leaves a trace: EventBridge retries its
	// delivery twice within an hour, then puts the event in this queue;
	// the sweeper's own failed runs (after Lambda's two retries) go there
	// too, and an alarm fires while it is not empty.
	b.failures = awssqs.NewQueue(b.stack, jsii.String("ScheduleFailures"), &awssqs.QueueProps{
		QueueName:       b.name("schedule-failures"),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	b.fns["sweeper"].ConfigureAsyncInvoke(&awslambda.EventInvokeConfigOptions{
		OnFailure:     awslambdadestinations.NewSqsDestination(b.failures),
		RetryAttempts: jsii.Number(2),
	})
	for _, s := range []struct {
		id   string
		rate awscdk.Duration
		task string
	}{{"SweepSchedule", b.p.SweepRate, "sweep"}, {"BackupSchedule", b.p.BackupRate, "backup"}} {
		awsevents.NewRule(b.stack, jsii.String(s.id), &awsevents.RuleProps{
			RuleName: b.name(s.task),
			Schedule: awsevents.Schedule_Rate(s.rate),
			Targets: &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(b.fns["sweeper"], &awseventstargets.LambdaFunctionProps{
				Event:           awsevents.RuleTargetInput_FromObject(map[string]any{"task": s.task}),
				DeadLetterQueue: b.failures,
				RetryAttempts:   jsii.Number(2),
				MaxEventAge:     awscdk.Duration_Hours(jsii.Number(1)),
			})},
		})
	}
}

func (b *builder) alarms() {
	five := awscdk.Duration_Minutes(jsii.Number(5))
	// Every alarm notifies the alarm topic, which e-mails the address of
	// the context value alarmEmail, if any, and which any other subscriber
	// (chat, paging) may join.
	topic := awssns.NewTopic(b.stack, jsii.String("Alarms"), &awssns.TopicProps{
		TopicName: b.name("alarms"), EnforceSSL: jsii.Bool(true),
	})
	if b.p.AlarmEmail != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(b.p.AlarmEmail), nil))
	}
	awscdk.NewCfnOutput(b.stack, jsii.String("AlarmTopicArn"), &awscdk.CfnOutputProps{Value: topic.TopicArn(),
		Description: jsii.String("Every alarm notifies this topic: subscribe to it")})
	action := awscloudwatchactions.NewSnsAction(topic)
	alarm := func(id string, m awscloudwatch.Metric, threshold float64, desc string) {
		a := m.CreateAlarm(b.stack, jsii.String(id), &awscloudwatch.CreateAlarmOptions{
			AlarmName:          b.name(strings.ToLower(id)),
			AlarmDescription:   jsii.String(desc),
			Threshold:          jsii.Number(threshold),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(action)
	}
	dash := awscloudwatch.NewDashboard(b.stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{DashboardName: b.name("dashboard")})
	for _, f := range Functions {
		fn := b.fns[f.Name]
		id := strings.ToUpper(f.Name[:1]) + f.Name[1:]
		errs := fn.MetricErrors(&awscloudwatch.MetricOptions{Period: five})
		throttles := fn.MetricThrottles(&awscloudwatch.MetricOptions{Period: five})
		p99 := fn.MetricDuration(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("p99")})
		alarm(id+"Errors", errs, b.p.ErrorThreshold, f.Name+" returned errors")
		alarm(id+"Throttles", throttles, b.p.ThrottleThreshold, f.Name+" was throttled")
		p99Threshold, desc := b.p.P99DurationMillis, f.Name+"'s p99 duration is high"
		if f.Waits {
			// Its requests may wait up to 25 s by design: the alarm is for
			// one that runs on past the longest wait.
			p99Threshold += MaxWaitSeconds * 1000
			desc = f.Name + "'s p99 duration is high: past the longest wait (25 s)"
		}
		alarm(id+"P99Duration", p99, p99Threshold, desc)
		dash.AddWidgets(awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(f.Name), Width: jsii.Number(12),
			Left:  &[]awscloudwatch.IMetric{fn.MetricInvocations(&awscloudwatch.MetricOptions{Period: five}), errs, throttles},
			Right: &[]awscloudwatch.IMetric{p99},
		}))
	}
	failed := b.failures.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Maximum")})
	alarm("ScheduleFailed", failed, 1, "a scheduled sweep or backup failed: read the schedule-failures queue")
	server := b.restAPI.MetricServerError(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("Sum")})
	alarm("Api5xx", server, b.p.Api5xxThreshold, "the API answered 5xx")
	dash.AddWidgets(awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
		Title: jsii.String("API"), Width: jsii.Number(24),
		Left: &[]awscloudwatch.IMetric{
			b.restAPI.MetricCount(&awscloudwatch.MetricOptions{Period: five}),
			b.restAPI.MetricClientError(&awscloudwatch.MetricOptions{Period: five}), server,
		},
		Right: &[]awscloudwatch.IMetric{b.restAPI.MetricLatency(&awscloudwatch.MetricOptions{Period: five, Statistic: jsii.String("p99")})},
	}))
}

func (b *builder) outputs() {
	awscdk.NewCfnOutput(b.stack, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{Value: b.restAPI.Url(), Description: jsii.String("The API's base URL (the stage's)")})
	awscdk.NewCfnOutput(b.stack, jsii.String("BackupBucket"), &awscdk.CfnOutputProps{Value: b.backups.BucketName()})
	awscdk.NewCfnOutput(b.stack, jsii.String("UpstashTokenSecretArn"), &awscdk.CfnOutputProps{Value: b.token.SecretArn()})
	if b.vector != nil {
		awscdk.NewCfnOutput(b.stack, jsii.String("UpstashVectorTokenSecretArn"), &awscdk.CfnOutputProps{Value: b.vector.SecretArn()})
	}
}

// nag is one cdk-nag rule set aside, with why; appliesTo narrows it to
// the findings named (cdk-nag's "Resource::*" and the like).
func nag(id, reason string, appliesTo ...string) *cdknag.NagPackSuppression {
	s := &cdknag.NagPackSuppression{Id: jsii.String(id), Reason: jsii.String(reason)}
	if len(appliesTo) > 0 {
		list := make([]any, len(appliesTo))
		for i, a := range appliesTo {
			list[i] = a
		}
		s.AppliesTo = &list
	}
	return s
}

// nagSuppressions sets aside the cdk-nag findings (AwsSolutions and
// Serverless packs) that do not apply here, each with its reason; the
// infra tests fail on any finding left.
func (b *builder) nagSuppressions() {
	add := func(c constructs.IConstruct, children bool, s ...*cdknag.NagPackSuppression) {
		cdknag.NagSuppressions_AddResourceSuppressions(c, &s, jsii.Bool(children))
	}
	add(b.restAPI, true,
		nag("AwsSolutions-APIG4", "Every method but the approval page needs an API Gateway API key on a per-client usage plan, and the functions check the key's client against the route's scope (read, write, decide, mcp) before anything runs; the approval page's link token is its credential, an HMAC over the approval, the approver and the expiry."),
		nag("AwsSolutions-COG4", "The API's callers are programs (n8n, agents), each with its own API key and scopes; there are no end users to sign in with Cognito. Approvers use single-purpose signed links."),
		nag("AwsSolutions-APIG2", "The handlers validate every request against the contract (shared/openapi) themselves, with problem+json answers that name each bad field, which API Gateway's request validator cannot give; every test checks the answers against the OpenAPI document."),
		nag("AwsSolutions-IAM4", "API Gateway's account-level CloudWatch role uses the AWS managed policy AmazonAPIGatewayPushToCloudWatchLogs, the one AWS documents for writing its access and execution logs.",
			"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"),
	)
	if !b.p.WAF {
		add(b.restAPI.DeploymentStage(), false, nag("AwsSolutions-APIG3", "The WAF web ACL is optional (context waf=true), as it costs about $7 a month and $0.60 per million requests; infra/README.md says when to turn it on. The usage plans throttle each client meanwhile."))
	}
	for _, f := range Functions {
		fn := b.fns[f.Name]
		add(fn, true,
			nag("AwsSolutions-IAM4", "The function's role uses AWSLambdaBasicExecutionRole, the AWS managed policy that lets Lambda write the function's own log group, and nothing else.",
				"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"),
			nag("AwsSolutions-IAM5", "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource-level permissions, so active tracing needs Resource *; every other statement names its secret, bucket prefix or queue.", "Resource::*"),
		)
		if f.Name == "sweeper" {
			add(fn, true,
				nag("AwsSolutions-IAM5", "Backups are new objects named by their time under backups/: the sweeper may put objects, and abort an abandoned upload, under that prefix only, and delete nothing.", "Resource::<Backups9A29A52D.Arn>/"+backupPrefix+"/*"),
				nag("Serverless-LambdaDLQ", "The sweeper's failed asynchronous runs go to the schedule-failures queue through its on-failure destination, which records the request, the response and the error, more than a dead-letter queue keeps; an alarm watches the queue."),
			)
		} else {
			add(fn, true, nag("Serverless-LambdaDLQ", "API Gateway invokes this function synchronously and returns its failure to the caller, who retries with the same Idempotency-Key; a dead-letter queue applies only to asynchronous invocations, which this function never gets."))
		}
	}
	add(b.failures, true,
		nag("AwsSolutions-SQS3", "This queue is itself the dead-letter queue: of the schedules' EventBridge targets and of the sweeper's on-failure destination. Its messages are read by an operator after its alarm fires."),
		nag("Serverless-SQSRedrivePolicy", "This queue is itself the dead-letter queue of the scheduled runs; nothing consumes it automatically, so there is nothing to redrive from it."),
	)
	add(b.backups, true, nag("AwsSolutions-S1", "Server access logs would need a second bucket whose own access logs would need a third; the backup bucket allows only TLS, only the sweeper's put-only role writes it, and its reads are by operators, which CloudTrail S3 data events record where an audit is wanted."))
	rotation := "Rotation is by hand, by the runbook Rotating secrets in infra/README.md: "
	add(b.token, true, nag("AwsSolutions-SMG4", rotation+"the Upstash REST token is issued by Upstash, not AWS, so a rotation Lambda could not make a new one; reset it in Upstash's console, put it in the secret, and the functions read it at their next cold start."))
	add(b.webhook, true, nag("AwsSolutions-SMG4", rotation+"every webhook receiver checks signatures with this secret, so a new one must be given to them at the same time; an automatic rotation would break every receiver."))
	add(b.callbackJWT, true, nag("AwsSolutions-SMG4", rotation+"n8n's Wait nodes check callbacks with this secret in a credential of their own, so a new one must reach n8n at the same time; an automatic rotation would lock every waiting execution out."))
	add(b.links, true, nag("AwsSolutions-SMG4", rotation+"a new link secret voids every approver's outstanding link at once, so it is rotated when links may have leaked, not on a schedule."))
	if b.vector != nil {
		add(b.vector, true, nag("AwsSolutions-SMG4", rotation+"the Upstash Vector token is issued by Upstash, not AWS, so a rotation Lambda could not make a new one; reset it in Upstash's console and put it in the secret."))
	}
}

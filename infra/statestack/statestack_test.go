package statestack_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/infra/statestack"
)

func TestMain(m *testing.M) {
	os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// codeDir holds stand-in zips: the assertions read the template, not the
// code.
func codeDir(t *testing.T) string {
	dir := t.TempDir()
	for _, f := range statestack.Functions {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f.Name+".zip"), []byte("zip of "+f.Name), 0o600))
	}
	return dir
}

type template struct {
	t   *testing.T
	tpl assertions.Template
}

func synth(t *testing.T, props *statestack.StateStackProps) template {
	app := awscdk.NewApp(nil)
	if props.CodeDir == "" {
		props.CodeDir = codeDir(t)
	}
	stack := statestack.NewStateStack(app, "Test", props)
	return template{t, assertions.Template_FromStack(stack, nil)}
}

// resources returns the resources of a type, as plain maps.
func (tp template) resources(typ string) map[string]map[string]any {
	raw := tp.tpl.FindResources(jsii.String(typ), nil)
	b, err := json.Marshal(raw)
	require.NoError(tp.t, err)
	var out map[string]map[string]any
	require.NoError(tp.t, json.Unmarshal(b, &out))
	return out
}

func props(r map[string]any) map[string]any { p, _ := r["Properties"].(map[string]any); return p }

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

var base = statestack.StateStackProps{UpstashURL: "https://eu1-fine-cat-12345.upstash.io", Stage: "test"}

func TestFunctions(t *testing.T) {
	p := base
	tp := synth(t, &p)
	fns := tp.resources("AWS::Lambda::Function")
	require.Len(t, fns, 5)
	byName := map[string]map[string]any{}
	for _, r := range fns {
		pr := props(r)
		byName[pr["FunctionName"].(string)] = pr
	}
	for _, f := range statestack.Functions {
		pr, ok := byName["ai-rails-test-"+f.Name]
		require.True(t, ok, f.Name)
		assert.Equal(t, "provided.al2023", pr["Runtime"])
		assert.Equal(t, []any{"arm64"}, pr["Architectures"])
		assert.Equal(t, "bootstrap", pr["Handler"])
		assert.Equal(t, f.Memory, pr["MemorySize"])
		assert.Equal(t, f.Timeout, pr["Timeout"])
		assert.Equal(t, map[string]any{"Mode": "Active"}, pr["TracingConfig"])
		env := pr["Environment"].(map[string]any)["Variables"].(map[string]any)
		assert.Equal(t, "https://eu1-fine-cat-12345.upstash.io", env["UPSTASH_REDIS_REST_URL"])
		assert.Contains(t, env, "UPSTASH_REDIS_REST_TOKEN_SECRET_ARN")
		for k := range env {
			assert.NotEqual(t, "UPSTASH_REDIS_REST_TOKEN", k, "no token in plain environment variables")
			assert.NotEqual(t, "WEBHOOK_SECRET", k)
		}
		_, hasWebhook := env["WEBHOOK_SECRET_SECRET_ARN"]
		assert.Equal(t, f.Webhooks, hasWebhook, f.Name)
		_, hasJWT := env["CALLBACK_JWT_SECRET_ARN"]
		assert.Equal(t, f.Webhooks, hasJWT, "%s: the callback JWT's secret, by ARN", f.Name)
		assert.NotContains(t, env, "CALLBACK_JWT_SECRET")
		links := f.Name == "approval" || f.Name == "mcp" || f.Name == "sweeper"
		_, hasLinks := env["APPROVAL_LINK_SECRET_ARN"]
		assert.Equal(t, links, hasLinks, f.Name)
		_, hasBase := env["PUBLIC_BASE_URL"]
		assert.Equal(t, links, hasBase, "%s: links point at the stage", f.Name)
		assert.NotContains(t, env, "APPROVAL_NOTIFY_URL", "none unless one is given")
		assert.NotContains(t, env, "ALLOW_APPROVE_ON_TIMEOUT", "off unless allowed")
		_, hasBucket := env["BACKUP_BUCKET"]
		assert.Equal(t, f.Name == "sweeper", hasBucket, f.Name)
		assert.NotContains(t, env, "UPSTASH_VECTOR_REST_URL", "no vector index unless one is given")
		assert.Contains(t, mustJSON(pr["LoggingConfig"]), "LogGroup", "its own log group")
	}
	logs := tp.resources("AWS::Logs::LogGroup")
	assert.Len(t, logs, 6, "five functions and the API's access log")
	for _, r := range logs {
		assert.Equal(t, float64(30), props(r)["RetentionInDays"])
	}
}

func TestAPI(t *testing.T) {
	p := base
	tp := synth(t, &p)
	methods := tp.resources("AWS::ApiGateway::Method")
	assert.Len(t, methods, len(statestack.Routes), "one method per route of API.md")
	public := 0
	for id, r := range methods {
		// Only the approval page's two methods go without the API key.
		if strings.HasPrefix(id, "Apiapprovetoken") {
			assert.Equal(t, false, props(r)["ApiKeyRequired"], id)
			public++
		} else {
			assert.Equal(t, true, props(r)["ApiKeyRequired"], id)
		}
		in := props(r)["Integration"].(map[string]any)
		assert.Equal(t, "AWS_PROXY", in["Type"], id)
	}
	assert.Equal(t, 2, public, "GET and POST /approve/{token}")
	// The stage throttles the page's methods tighter than the API.
	for _, m := range []string{"GET", "POST"} {
		tp.tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::Stage"), map[string]any{
			"MethodSettings": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
				"ResourcePath": "/~1approve~1{token}", "HttpMethod": m,
				"ThrottlingRateLimit": statestack.PublicThrottleRate, "ThrottlingBurstLimit": statestack.PublicThrottleBurst,
			})}),
		})
	}
	tp.tpl.ResourceCountIs(jsii.String("AWS::ApiGateway::ApiKey"), jsii.Number(1))
	tp.tpl.ResourceCountIs(jsii.String("AWS::ApiGateway::UsagePlanKey"), jsii.Number(1))
	tp.tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::UsagePlan"), map[string]any{
		"Throttle": map[string]any{"RateLimit": 50, "BurstLimit": 100},
		"Quota":    map[string]any{"Limit": 100000, "Period": "DAY"},
		"ApiStages": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
			"Stage": assertions.Match_AnyValue(),
		})}),
	})
	tp.tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::Stage"), map[string]any{
		"StageName":        "test",
		"TracingEnabled":   true,
		"AccessLogSetting": assertions.Match_ObjectLike(&map[string]any{"DestinationArn": assertions.Match_AnyValue()}),
		"MethodSettings":   assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{"ThrottlingRateLimit": 50})}),
	})
	// The paths of API.md, as resources.
	paths := map[string]bool{}
	for _, r := range tp.resources("AWS::ApiGateway::Resource") {
		paths[props(r)["PathPart"].(string)] = true
	}
	for _, part := range []string{"api", "workflow", "state", "{workflow_id}", "history", "lock", "{resource_id}", "approval",
		"{approval_id}", "decision", "audit", "results", "{test_id}", "health", "metrics"} {
		assert.True(t, paths[part], part)
	}
	outputs := tp.tpl.FindOutputs(jsii.String("*"), nil)
	for _, o := range []string{"ApiUrl", "ApiKeyId", "BackupBucket"} {
		assert.Contains(t, *outputs, o)
	}
}

// A failed scheduled run leaves a trace: each rule's target retries and
// then has a dead-letter queue, and the sweeper's failed asynchronous runs
// go to the same queue.
// The web ACL is off by default; on, it holds AWS's common rules and a
// rate limit per IP address, and guards the API's stage.
func TestWAF(t *testing.T) {
	p := base
	assert.Empty(t, synth(t, &p).resources("AWS::WAFv2::WebACL"))
	p.WAF = true
	tp := synth(t, &p)
	acls := tp.resources("AWS::WAFv2::WebACL")
	require.Len(t, acls, 1)
	for _, r := range acls {
		doc := mustJSON(props(r))
		assert.Contains(t, doc, `"Scope":"REGIONAL"`)
		assert.Contains(t, doc, "AWSManagedRulesCommonRuleSet")
		assert.Contains(t, doc, `"RateBasedStatement":{"AggregateKeyType":"IP","Limit":2000}`)
	}
	assoc := tp.resources("AWS::WAFv2::WebACLAssociation")
	require.Len(t, assoc, 1)
	for _, r := range assoc {
		assert.Contains(t, mustJSON(props(r)["ResourceArn"]), "/stages/", "the API's stage")
	}
}

// API Gateway's execution logs hold errors only, and no body.
func TestExecutionLogging(t *testing.T) {
	p := base
	tp := synth(t, &p)
	for _, r := range tp.resources("AWS::ApiGateway::Stage") {
		settings := props(r)["MethodSettings"].([]any)
		found := false
		for _, m := range settings {
			ms := m.(map[string]any)
			if ms["HttpMethod"] == "*" && ms["ResourcePath"] == "/*" {
				found = true
				assert.Equal(t, "ERROR", ms["LoggingLevel"])
				assert.Equal(t, false, ms["DataTraceEnabled"])
			}
		}
		assert.True(t, found, "the stage's settings for every method: %s", mustJSON(settings))
	}
}

func TestScheduleFailures(t *testing.T) {
	p := base
	tp := synth(t, &p)
	queues := tp.resources("AWS::SQS::Queue")
	require.Len(t, queues, 1)
	for _, r := range tp.resources("AWS::Events::Rule") {
		targets := props(r)["Targets"].([]any)
		require.NotEmpty(t, targets)
		for _, tg := range targets {
			m := tg.(map[string]any)
			assert.Contains(t, mustJSON(m["DeadLetterConfig"]), "ScheduleFailures", "every schedule target has a dead-letter queue")
			assert.Equal(t, map[string]any{"MaximumEventAgeInSeconds": float64(3600), "MaximumRetryAttempts": float64(2)}, m["RetryPolicy"])
		}
	}
	tp.tpl.HasResourceProperties(jsii.String("AWS::Lambda::EventInvokeConfig"), map[string]any{
		"MaximumRetryAttempts": 2,
		"DestinationConfig":    map[string]any{"OnFailure": map[string]any{"Destination": assertions.Match_AnyValue()}},
	})
	tp.tpl.HasResourceProperties(jsii.String("AWS::CloudWatch::Alarm"), map[string]any{
		"MetricName": "ApproximateNumberOfMessagesVisible", "Namespace": "AWS/SQS", "Threshold": 1,
	})
}

func TestSchedules(t *testing.T) {
	p := base
	tp := synth(t, &p)
	rules := tp.resources("AWS::Events::Rule")
	require.Len(t, rules, 2)
	got := map[string]string{}
	for _, r := range rules {
		pr := props(r)
		targets := pr["Targets"].([]any)
		require.Len(t, targets, 1)
		got[pr["ScheduleExpression"].(string)] = targets[0].(map[string]any)["Input"].(string)
	}
	assert.JSONEq(t, `{"task":"sweep"}`, got["rate(5 minutes)"])
	assert.JSONEq(t, `{"task":"backup"}`, got["rate(1 hour)"])
	events := 0
	for _, r := range tp.resources("AWS::Lambda::Permission") {
		if props(r)["Principal"] == "events.amazonaws.com" {
			events++
		}
	}
	assert.Equal(t, 2, events, "EventBridge may invoke the sweeper, once per rule")
}

func TestBucket(t *testing.T) {
	p := base
	p.BackupRetentionDays = 45
	tp := synth(t, &p)
	tp.tpl.HasResourceProperties(jsii.String("AWS::S3::Bucket"), map[string]any{
		"VersioningConfiguration": map[string]any{"Status": "Enabled"},
		"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": []any{map[string]any{
			"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "AES256"}}}},
		"PublicAccessBlockConfiguration": map[string]any{"BlockPublicAcls": true, "BlockPublicPolicy": true,
			"IgnorePublicAcls": true, "RestrictPublicBuckets": true},
		"LifecycleConfiguration": map[string]any{"Rules": assertions.Match_ArrayWith(&[]any{assertions.Match_ObjectLike(&map[string]any{
			"ExpirationInDays": 45, "Prefix": "backups/", "Status": "Enabled",
			"NoncurrentVersionExpiration": map[string]any{"NoncurrentDays": 7},
		})})},
	})
	policy := tp.resources("AWS::S3::BucketPolicy")
	require.Len(t, policy, 1)
	for _, r := range policy {
		assert.Contains(t, mustJSON(props(r)), `"aws:SecureTransport":"false"`, "TLS is enforced")
	}
	// Only the sweeper may write backups, only under backups/, and nothing
	// in the stack may delete one.
	for id, r := range tp.resources("AWS::IAM::Policy") {
		doc := mustJSON(props(r)["PolicyDocument"])
		writes := strings.Contains(doc, "s3:PutObject")
		assert.Equal(t, strings.Contains(id, "Sweeper"), writes, id)
		if writes {
			assert.Contains(t, doc, `/backups/*`, "%s: under the prefix only", id)
		}
	}
	for typ, rs := range map[string]map[string]map[string]any{"AWS::IAM::Policy": tp.resources("AWS::IAM::Policy"),
		"AWS::S3::BucketPolicy": tp.resources("AWS::S3::BucketPolicy"), "AWS::IAM::Role": tp.resources("AWS::IAM::Role")} {
		for id, r := range rs {
			var doc struct {
				Statement []struct {
					Effect string `json:"Effect"`
					Action any    `json:"Action"`
				} `json:"Statement"`
			}
			raw := props(r)["PolicyDocument"]
			if raw == nil {
				continue
			}
			require.NoError(t, json.Unmarshal([]byte(mustJSON(raw)), &doc))
			for _, st := range doc.Statement {
				if st.Effect != "Allow" {
					continue
				}
				for _, a := range strings.Fields(strings.NewReplacer("[", " ", "]", " ", ",", " ", `"`, " ").Replace(mustJSON(st.Action))) {
					assert.False(t, strings.HasPrefix(a, "s3:DeleteObject") || a == "s3:*" || a == "*", "%s %s allows %s", typ, id, a)
				}
			}
		}
	}
}

func TestSecrets(t *testing.T) {
	p := base
	tp := synth(t, &p)
	assert.Len(t, tp.resources("AWS::SecretsManager::Secret"), 4, "new secrets for the token, the webhook, the callback JWT and the approvers' links")
	for id, r := range tp.resources("AWS::IAM::Policy") {
		doc := mustJSON(props(r)["PolicyDocument"])
		assert.Contains(t, doc, "secretsmanager:GetSecretValue", id)
		assert.Contains(t, doc, "UpstashToken", id)
		webhook := strings.Contains(doc, "WebhookSecret")
		signs := strings.HasPrefix(id, "Approval") || strings.HasPrefix(id, "Mcp") || strings.HasPrefix(id, "Sweeper")
		assert.Equal(t, signs, webhook, id)
		assert.Equal(t, signs, strings.Contains(doc, "ApprovalLinkSecret"), "%s: the functions that make links", id)
	}

	existing := base
	existing.UpstashTokenSecretARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:upstash-AbCdEf"
	existing.WebhookSecretARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:webhook-AbCdEf"
	tp = synth(t, &existing)
	assert.Len(t, tp.resources("AWS::SecretsManager::Secret"), 2, "existing secrets are used, not made; the link and callback JWT secrets are the stack's own")
	for _, r := range tp.resources("AWS::Lambda::Function") {
		env := props(r)["Environment"].(map[string]any)["Variables"].(map[string]any)
		assert.Equal(t, existing.UpstashTokenSecretARN, env["UPSTASH_REDIS_REST_TOKEN_SECRET_ARN"])
	}
}

func TestAlarmsAndDashboard(t *testing.T) {
	p := base
	tp := synth(t, &p)
	alarms := tp.resources("AWS::CloudWatch::Alarm")
	assert.Len(t, alarms, 3*len(statestack.Functions)+2)
	metrics := map[string]int{}
	for _, r := range alarms {
		pr := props(r)
		name, _ := pr["MetricName"].(string)
		metrics[name]++
		if ext, ok := pr["ExtendedStatistic"]; ok {
			assert.Equal(t, "p99", ext)
			waits := strings.Contains(mustJSON(pr["Dimensions"]), "Approval") || strings.Contains(mustJSON(pr["Dimensions"]), "Mcp")
			if waits {
				assert.Equal(t, float64(28000), pr["Threshold"], "the longest wait, and 3 s")
			} else {
				assert.Equal(t, float64(3000), pr["Threshold"])
			}
		}
	}
	assert.Equal(t, map[string]int{"Errors": 5, "Throttles": 5, "Duration": 5, "5XXError": 1, "ApproximateNumberOfMessagesVisible": 1}, metrics)
	// Every alarm reaches someone: it notifies the alarm topic.
	for id, r := range alarms {
		actions, _ := props(r)["AlarmActions"].([]any)
		require.Len(t, actions, 1, id)
		assert.Contains(t, mustJSON(actions[0]), "Alarms", id)
	}
	assert.Len(t, tp.resources("AWS::SNS::Subscription"), 0, "no e-mail unless one is given")
	p.AlarmEmail = "oncall@example.com"
	withMail := synth(t, &p)
	withMail.tpl.HasResourceProperties(jsii.String("AWS::SNS::Subscription"), map[string]any{"Protocol": "email", "Endpoint": "oncall@example.com"})
	withMail.tpl.HasOutput(jsii.String("AlarmTopicArn"), map[string]any{})
	tp.tpl.ResourceCountIs(jsii.String("AWS::CloudWatch::Dashboard"), jsii.Number(1))
}

func TestContextAndValidation(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Context: &map[string]any{
		"stage": "staging", "upstashUrl": "https://x.upstash.io", "codeDir": codeDir(t),
	}})
	stack := statestack.NewStateStack(app, "FromContext", nil)
	tpl := assertions.Template_FromStack(stack, nil)
	tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{"FunctionName": "ai-rails-staging-workflow"})
	tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::Stage"), map[string]any{"StageName": "staging"})

	assert.Panics(t, func() {
		statestack.NewStateStack(awscdk.NewApp(nil), "NoURL", &statestack.StateStackProps{CodeDir: codeDir(t)})
	}, "the Upstash URL is required")
}

// The waits (GET /api/approval/{id}?wait=25, approval_wait) fit: the
// approval and mcp functions time out after 28 s, past the longest wait
// and under API Gateway's 29 s; POST /mcp goes to the mcp function, with
// the API key; the notification URL and ALLOW_APPROVE_ON_TIMEOUT reach the
// functions that need them.
func TestMCPAndWaits(t *testing.T) {
	p := base
	p.ApprovalNotifyURL = "https://ops.example.com/approvals"
	p.AllowApproveOnTimeout = true
	tp := synth(t, &p)
	byName := map[string]map[string]any{}
	for _, r := range tp.resources("AWS::Lambda::Function") {
		pr := props(r)
		byName[pr["FunctionName"].(string)] = pr
	}
	for _, name := range []string{"approval", "mcp"} {
		pr := byName["ai-rails-test-"+name]
		require.NotNil(t, pr, name)
		assert.Equal(t, float64(28), pr["Timeout"], name)
		assert.Greater(t, pr["Timeout"].(float64), float64(statestack.MaxWaitSeconds), name)
		assert.Less(t, pr["Timeout"].(float64), float64(29), "%s: under API Gateway's integration limit", name)
	}
	for name, pr := range byName {
		env := pr["Environment"].(map[string]any)["Variables"].(map[string]any)
		fn := strings.TrimPrefix(name, "ai-rails-test-")
		notify := fn == "approval" || fn == "mcp" || fn == "sweeper"
		if notify {
			assert.Equal(t, p.ApprovalNotifyURL, env["APPROVAL_NOTIFY_URL"], fn)
		} else {
			assert.NotContains(t, env, "APPROVAL_NOTIFY_URL", fn)
		}
		creates := fn == "approval" || fn == "mcp"
		_, allows := env["ALLOW_APPROVE_ON_TIMEOUT"]
		assert.Equal(t, creates, allows, fn)
	}
	mcp := byName["ai-rails-test-mcp"]
	assert.Equal(t, "bootstrap", mcp["Handler"])
	assert.Contains(t, mustJSON(mcp["Code"]), "S3Key", "its own asset (mcp.zip)")

	var found bool
	for _, r := range tp.resources("AWS::ApiGateway::Method") {
		pr := props(r)
		uri := mustJSON(pr["Integration"])
		if pr["HttpMethod"] == "POST" && strings.Contains(uri, "Mcp") && !strings.Contains(uri, "Approval") {
			found = true
			assert.Equal(t, true, pr["ApiKeyRequired"], "the same API key as the REST routes")
		}
	}
	assert.True(t, found, "POST /mcp is integrated with the mcp function")
	tp.tpl.HasResourceProperties(jsii.String("AWS::ApiGateway::Resource"), map[string]any{"PathPart": "mcp"})

	bad := base
	bad.ApprovalNotifyURL = "http://ops.example.com"
	bad.CodeDir = codeDir(t)
	assert.Panics(t, func() { statestack.NewStateStack(awscdk.NewApp(nil), "BadNotify", &bad) }, "the notification URL must be https")
}

// With an Upstash Vector index, the results function and the sweeper get
// its URL and its token's secret, as every function gets the store's; the
// others get neither, and no token is in a plain variable.
func TestVectorIndex(t *testing.T) {
	p := base
	p.VectorURL = "https://fine-cat-12345-vector.upstash.io"
	tp := synth(t, &p)
	assert.Len(t, tp.resources("AWS::SecretsManager::Secret"), 5, "a new secret for the vector token")
	for _, r := range tp.resources("AWS::Lambda::Function") {
		pr := props(r)
		name := pr["FunctionName"].(string)
		vector := name == "ai-rails-test-results" || name == "ai-rails-test-sweeper" || name == "ai-rails-test-mcp"
		env := pr["Environment"].(map[string]any)["Variables"].(map[string]any)
		_, hasURL := env["UPSTASH_VECTOR_REST_URL"]
		_, hasARN := env["UPSTASH_VECTOR_REST_TOKEN_SECRET_ARN"]
		assert.Equal(t, vector, hasURL, name)
		assert.Equal(t, vector, hasARN, name)
		assert.NotContains(t, env, "UPSTASH_VECTOR_REST_TOKEN", name)
		if vector {
			assert.Equal(t, p.VectorURL, env["UPSTASH_VECTOR_REST_URL"])
			assert.Contains(t, mustJSON(env["UPSTASH_VECTOR_REST_TOKEN_SECRET_ARN"]), "UpstashVectorToken")
			assert.Equal(t, "local", env["VECTOR_EMBEDDING"])
		}
	}
	for id, r := range tp.resources("AWS::IAM::Policy") {
		reads := strings.Contains(mustJSON(props(r)["PolicyDocument"]), "UpstashVectorToken")
		assert.Equal(t, strings.HasPrefix(id, "Results") || strings.HasPrefix(id, "Sweeper") || strings.HasPrefix(id, "Mcp"), reads, id)
	}
	tp.tpl.HasOutput(jsii.String("UpstashVectorTokenSecretArn"), map[string]any{})

	existing := p
	existing.VectorTokenSecretARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:vector-AbCdEf"
	existing.VectorEmbedding = "upstash"
	tp = synth(t, &existing)
	assert.Len(t, tp.resources("AWS::SecretsManager::Secret"), 4, "an existing vector secret is used, not made")
	tp.tpl.HasResourceProperties(jsii.String("AWS::Lambda::Function"), map[string]any{
		"FunctionName": "ai-rails-test-results",
		"Environment": map[string]any{"Variables": assertions.Match_ObjectLike(&map[string]any{
			"UPSTASH_VECTOR_REST_TOKEN_SECRET_ARN": existing.VectorTokenSecretARN, "VECTOR_EMBEDDING": "upstash"})},
	})

	bad := base
	bad.VectorURL = "http://vector.example.com"
	assert.Panics(t, func() { synth(t, &bad) }, "https only")
}

// Each client gets its own API Gateway key (two while one is rotated) and
// usage plan, and the HTTP functions learn which key id is which client,
// with its scopes; the first client keeps the stack's old key.
func TestClients(t *testing.T) {
	p := base
	p.Clients = []statestack.Client{
		{Name: "n8n", Scopes: []string{"read", "write"}},
		{Name: "agent", Scopes: []string{"read", "write", "mcp"}},
		{Name: "approver-bot", Scopes: []string{"decide"}, Keys: []int{1, 2}},
	}
	tp := synth(t, &p)
	keys := tp.resources("AWS::ApiGateway::ApiKey")
	assert.Len(t, keys, 4)
	var names []string
	for id, r := range keys {
		names = append(names, props(r)["Name"].(string))
		if props(r)["Name"] == "ai-rails-test-n8n" {
			assert.True(t, strings.HasPrefix(id, "ApiApiKey"), "%s: the first client keeps the old key's id", id)
		}
	}
	assert.ElementsMatch(t, []string{"ai-rails-test-n8n", "ai-rails-test-agent", "ai-rails-test-approver-bot", "ai-rails-test-approver-bot-2"}, names)
	assert.Len(t, tp.resources("AWS::ApiGateway::UsagePlan"), 3)
	assert.Len(t, tp.resources("AWS::ApiGateway::UsagePlanKey"), 4)
	for _, r := range tp.resources("AWS::Lambda::Function") {
		pr := props(r)
		env := pr["Environment"].(map[string]any)["Variables"].(map[string]any)
		clients, has := env["API_CLIENTS"]
		if pr["FunctionName"] == "ai-rails-test-sweeper" {
			assert.False(t, has)
			continue
		}
		require.True(t, has, pr["FunctionName"])
		text := mustJSON(clients)
		for _, want := range []string{`\"name\":\"agent\"`, `\"scopes\":[\"read\",\"write\",\"mcp\"]`, `\"name\":\"approver-bot\"`, "Ref"} {
			assert.Contains(t, text, want, pr["FunctionName"])
		}
	}
	for _, o := range []string{"ApiKeyId", "ApiKeyAgentId", "ApiKeyApproverbotId", "ApiKeyApproverbot2Id"} {
		tp.tpl.HasOutput(jsii.String(o), map[string]any{})
	}

	// After the rotation, only the new key is left.
	rotated := base
	rotated.Clients = []statestack.Client{{Name: "n8n", Scopes: []string{"read", "write"}, Keys: []int{2}}}
	after := synth(t, &rotated)
	var left []string
	for _, r := range after.resources("AWS::ApiGateway::ApiKey") {
		left = append(left, props(r)["Name"].(string))
	}
	assert.Equal(t, []string{"ai-rails-test-n8n-2"}, left)

	for _, bad := range [][]statestack.Client{
		{{Name: "N8N", Scopes: []string{"read"}}},
		{{Name: "a", Scopes: []string{"root"}}},
		{{Name: "a", Scopes: nil}},
		{{Name: "a", Scopes: []string{"read"}, Keys: []int{1, 2, 3}}},
		{{Name: "a", Scopes: []string{"read"}, Keys: []int{2, 2}}},
		{{Name: "a", Scopes: []string{"read"}, Keys: []int{0}}},
		{{Name: "a", Scopes: []string{"read"}}, {Name: "a", Scopes: []string{"write"}}},
	} {
		q := base
		q.Clients, q.CodeDir = bad, codeDir(t)
		assert.Panics(t, func() { statestack.NewStateStack(awscdk.NewApp(nil), "Bad", &q) }, "%v", bad)
	}
}

package statestack_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/stretchr/testify/assert"

	"github.com/ai-rails/state-service/infra/statestack"
)

// nagFindings synthesizes the stack under cdk-nag's AwsSolutions and
// Serverless packs and returns every error and warning left unsuppressed.
func nagFindings(t *testing.T, props *statestack.StateStackProps) []string {
	app := awscdk.NewApp(nil)
	if props.CodeDir == "" {
		props.CodeDir = codeDir(t)
	}
	stack := statestack.NewStateStack(app, "Nag", props)
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	awscdk.Aspects_Of(app).Add(cdknag.NewServerlessChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	ann := assertions.Annotations_FromStack(stack)
	var out []string
	for _, find := range []func(*string, interface{}) *[]*cxapi.SynthesisMessage{ann.FindError, ann.FindWarning} {
		for _, m := range *find(jsii.String("*"), assertions.Match_AnyValue()) {
			out = append(out, fmt.Sprintf("%s: %v", *m.Id, m.Entry.Data))
		}
	}
	sort.Strings(out)
	return out
}

// TestCdkNag applies cdk-nag's AwsSolutions and Serverless packs to the
// stack as deployed by default, with the WAF on, and with existing secrets
// and a vector index: no error or warning may be left unsuppressed, and
// every suppression gives a reason of at least one sentence.
func TestCdkNag(t *testing.T) {
	withWAF := base
	withWAF.WAF = true
	existing := base
	existing.UpstashTokenSecretARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:upstash-AbCdEf"
	existing.WebhookSecretARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:webhook-AbCdEf"
	existing.VectorURL = "https://fine-cat-12345-vector.upstash.io"
	existing.Clients = []statestack.Client{{Name: "n8n", Scopes: []string{"read", "write"}}, {Name: "agent", Scopes: []string{"read", "write", "mcp"}, Keys: []int{1, 2}}}
	for name, p := range map[string]statestack.StateStackProps{"default": base, "waf": withWAF, "existing secrets, clients and vectors": existing} {
		t.Run(name, func(t *testing.T) {
			f := nagFindings(t, &p)
			assert.Empty(t, f, "unsuppressed cdk-nag findings:\n%s", strings.Join(f, "\n"))
		})
	}
	// Each suppression says why, in a sentence of its own.
	p := base
	app := awscdk.NewApp(nil)
	p.CodeDir = codeDir(t)
	stack := statestack.NewStateStack(app, "Reasons", &p)
	tpl := assertions.Template_FromStack(stack, nil).ToJSON()
	raw := mustJSON(tpl)
	var n int
	for _, part := range strings.Split(raw, `"reason":"`)[1:] {
		reason := part[:strings.Index(part, `"`)]
		n++
		assert.GreaterOrEqual(t, len(reason), 60, "a reason that says why: %q", reason)
		assert.True(t, strings.HasSuffix(strings.TrimSpace(reason), "."), "a sentence: %q", reason)
		assert.NotContains(t, strings.ToLower(reason), "not needed", reason)
	}
	assert.Greater(t, n, 10, "suppressions found in the template's metadata")
}

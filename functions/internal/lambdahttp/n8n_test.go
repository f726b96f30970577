package lambdahttp

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These check the example flows' shape; scripts/n8n-e2e.sh (make test-n8n)
// runs them in a real n8n.

// n8nNode is one node of an example flow.
type n8nNode struct {
	Name        string                    `json:"name"`
	Type        string                    `json:"type"`
	Parameters  map[string]any            `json:"parameters"`
	Credentials map[string]map[string]any `json:"credentials"`
	RetryOnFail bool                      `json:"retryOnFail"`
	MaxTries    int                       `json:"maxTries"`
	OnError     string                    `json:"onError"`
	Notes       string                    `json:"notes"`
}

// n8nFlow is an example flow's nodes and connections.
type n8nFlow struct {
	ID          string    `json:"id"`
	Nodes       []n8nNode `json:"nodes"`
	Connections map[string]map[string][][]struct {
		Node string `json:"node"`
		Type string `json:"type"`
	} `json:"connections"`
}

func (f n8nFlow) node(t *testing.T, name string) n8nNode {
	for _, n := range f.Nodes {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("no node %q", name)
	return n8nNode{}
}

// next is where output out of node leads.
func (f n8nFlow) next(node string, out int) []string {
	outs := f.Connections[node]["main"]
	if out >= len(outs) {
		return nil
	}
	var to []string
	for _, c := range outs[out] {
		to = append(to, c.Node)
	}
	return to
}

func n8nDir(t *testing.T) string { return filepath.Join(moduleRoot(t), "..", "events", "n8n") }

func readFlow(t *testing.T, name string) n8nFlow {
	raw, err := os.ReadFile(filepath.Join(n8nDir(t), name))
	require.NoError(t, err)
	var flow n8nFlow
	require.NoError(t, json.Unmarshal(raw, &flow))
	assert.NotEmpty(t, flow.ID, "n8n import:workflow needs an id")
	return flow
}

func nodeHeader(n n8nNode, name string) string {
	hp, _ := n.Parameters["headerParameters"].(map[string]any)
	params, _ := hp["parameters"].([]any)
	for _, h := range params {
		if h.(map[string]any)["name"] == name {
			return h.(map[string]any)["value"].(string)
		}
	}
	return ""
}

// assignment is the value a Set node gives name.
func assignment(n n8nNode, name string) string {
	for _, a := range n.Parameters["assignments"].(map[string]any)["assignments"].([]any) {
		if a.(map[string]any)["name"] == name {
			return a.(map[string]any)["value"].(string)
		}
	}
	return ""
}

// envOverride is the only way a flow reads $env: inside a try, so that it
// works where $env is blocked (n8n Cloud, N8N_BLOCK_ENV_ACCESS_IN_NODE).
const envOverride = "={{ (() => { try { return $env.AI_RAILS_URL } catch (e) { return undefined } })() || 'http://127.0.0.1:3000' }}"

// Every flow: its credentials are in credentials.example.json (so that
// importing that first links them), its base URL comes from its Settings
// node, each HTTP Request has a timeout and retries, and each write an
// Idempotency-Key of its own, built from the workflow id and a random run
// key, never n8n's execution id (which starts again at 1 in another n8n).
func TestN8nFlows(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(n8nDir(t), "credentials.example.json"))
	require.NoError(t, err)
	var creds []struct{ ID, Name, Type string }
	require.NoError(t, json.Unmarshal(raw, &creds))
	byName := map[string]string{}
	for _, c := range creds {
		byName[c.Name] = c.Type + "/" + c.ID
	}
	names, err := filepath.Glob(filepath.Join(n8nDir(t), "*-flow.json"))
	require.NoError(t, err)
	require.Len(t, names, 4)
	for _, path := range names {
		t.Run(filepath.Base(path), func(t *testing.T) {
			raw, err := os.ReadFile(path)
			require.NoError(t, err)
			flow := readFlow(t, filepath.Base(path))
			inNotes := 0
			for _, n := range flow.Nodes {
				inNotes += strings.Count(n.Notes, "$env")
			}
			assert.Equal(t, strings.Count(string(raw), "$env")-inNotes, strings.Count(string(raw), envOverride[:60]), "$env only in the Settings node's override")
			seen := map[string]bool{}
			for _, n := range flow.Nodes {
				for typ, c := range n.Credentials {
					assert.Equal(t, typ+"/"+c["id"].(string), byName[c["name"].(string)], "%s: credential %q", n.Name, c["name"])
				}
				if strings.Contains(string(mustJSON(t, n.Parameters)), "127.0.0.1:3000") {
					assert.Equal(t, "Settings", n.Name, "the base URL is set in one place")
					assert.Equal(t, envOverride, assignment(n, "base_url"))
				}
				if n.Type != "n8n-nodes-base.httpRequest" {
					continue
				}
				assert.True(t, strings.HasPrefix(n.Parameters["url"].(string), "={{ $('Settings').first().json.base_url }}/"), n.Name)
				assert.True(t, n.RetryOnFail, n.Name)
				assert.Equal(t, 3, n.MaxTries, n.Name)
				assert.Positive(t, n.Parameters["options"].(map[string]any)["timeout"], n.Name)
				if n.Parameters["method"] == "GET" || strings.HasSuffix(n.Parameters["url"].(string), "/api/failures/similar") {
					continue
				}
				key := nodeHeader(n, "Idempotency-Key")
				assert.Regexp(t, regexp.MustCompile(`^=\{\{ \$\('Settings'\)\.first\(\)\.json\.workflow_id \+ ':' \+ \$\('Settings'\)\.first\(\)\.json\.run_key \+ ':[a-z-]+' \}\}$`), key, n.Name)
				assert.False(t, seen[key], "%s has a key of its own", n.Name)
				seen[key] = true
			}
			if len(seen) > 0 {
				runKey := assignment(flow.node(t, "Settings"), "run_key")
				assert.Contains(t, runKey, "Math.random()", "the run key is random")
				assert.NotContains(t, runKey, "$execution.id")
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// The approval flow: the Wait node takes a resume only with the service's
// JWT, and gives up a minute past the expiry; what happens next is decided
// by the approval read back from the service, a pending one going back to
// waiting; the writes after the wait are conditional on the version the
// flow saved, and their failures, like the read's, reach Record failure.
func TestN8nApprovalFlow(t *testing.T) {
	flow := readFlow(t, "approval-flow.json")
	settings := flow.node(t, "Settings")
	for _, input := range []string{"workflow_id", "feature_description", "expires_in_seconds", "approvers", "min_approvals"} {
		assert.Contains(t, assignment(settings, input), "$json.body."+input, "%s is an input of the flow", input)
	}
	request := flow.node(t, "Request approval")
	for _, want := range []string{"expires_in_seconds: $('Settings').first().json.expires_in_seconds", "callback_url: $execution.resumeUrl", "approvers: $('Settings')"} {
		assert.Contains(t, request.Parameters["jsonBody"], want)
	}

	wait := flow.node(t, "Wait for decision")
	assert.Equal(t, "webhook", wait.Parameters["resume"])
	assert.Equal(t, "jwtAuth", wait.Parameters["incomingAuthentication"])
	assert.Equal(t, "AI Rails callback JWT", wait.Credentials["jwtAuth"]["name"])
	assert.Equal(t, true, wait.Parameters["limitWaitTime"])
	assert.Equal(t, "atSpecifiedTime", wait.Parameters["limitType"])
	assert.Contains(t, wait.Parameters["maxDateAndTime"], "$('Request approval').first().json.expires_at).plus({ seconds: 60 })")

	assert.Equal(t, []string{"Read approval"}, flow.next("Wait for decision", 0))
	read := flow.node(t, "Read approval")
	assert.Contains(t, read.Parameters["url"], "/api/approval/{{ $('Request approval').first().json.approval_id }}")
	assert.Equal(t, []string{"Decided?"}, flow.next("Read approval", 0))
	assert.Equal(t, []string{"Record failure"}, flow.next("Read approval", 1))

	decided := flow.node(t, "Decided?")
	var outputs []string
	for _, r := range decided.Parameters["rules"].(map[string]any)["values"].([]any) {
		outputs = append(outputs, r.(map[string]any)["outputKey"].(string))
	}
	assert.Equal(t, []string{"approved", "rejected", "expired"}, outputs)
	assert.Equal(t, "extra", decided.Parameters["options"].(map[string]any)["fallbackOutput"])
	assert.Equal(t, []string{"Wait for decision"}, flow.next("Decided?", 3), "a pending approval goes back to waiting")

	for i, mark := range []struct{ node, stage, status string }{
		{"Mark approved", "'approved'", ""}, {"Mark rejected", "'rejected'", "status: 'failed'"}, {"Mark expired", "'expired'", "status: 'failed'"},
	} {
		assert.Equal(t, []string{mark.node}, flow.next("Decided?", i))
		n := flow.node(t, mark.node)
		assert.Equal(t, "PATCH", n.Parameters["method"])
		assert.Contains(t, n.Parameters["jsonBody"], "current_stage: "+mark.stage)
		assert.Contains(t, n.Parameters["jsonBody"], mark.status)
		assert.Equal(t, `={{ '"' + $('Save state').first().json.version + '"' }}`, nodeHeader(n, "If-Match"))
		assert.Equal(t, "continueErrorOutput", n.OnError)
		assert.Equal(t, []string{"Record failure"}, flow.next(mark.node, 1))
	}
	record := flow.node(t, "Record failure")
	assert.Contains(t, record.Parameters["jsonBody"], "status: 'failed'")
	assert.Contains(t, record.Parameters["jsonBody"], "outcome_error:")
	assert.Empty(t, nodeHeader(record, "If-Match"), "the failure is recorded whatever changed")
	// Only the service's answers decide: no node reads the resume's body.
	raw, err := os.ReadFile(filepath.Join(n8nDir(t), "approval-flow.json"))
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "$json.body.status")
	assert.NotContains(t, string(raw), "$json.body.decision")
}

// The agent flow gives n8n's AI Agent the service's MCP server through the
// MCP Client Tool (Streamable HTTP, the API key as a header credential).
func TestN8nAgentMCPFlow(t *testing.T) {
	flow := readFlow(t, "agent-mcp-flow.json")
	byType := map[string]int{}
	for _, n := range flow.Nodes {
		byType[n.Type]++
		if n.Type == "@n8n/n8n-nodes-langchain.mcpClientTool" {
			assert.Equal(t, "={{ $('Settings').first().json.base_url }}/mcp", n.Parameters["endpointUrl"])
			assert.Equal(t, "httpStreamable", n.Parameters["serverTransport"])
			assert.Equal(t, "headerAuth", n.Parameters["authentication"])
			assert.Equal(t, "AI Rails agent key", n.Credentials["httpHeaderAuth"]["name"], "a key with read, write and mcp, not n8n's")
			tools := flow.Connections[n.Name]["ai_tool"]
			require.Len(t, tools, 1)
			assert.Equal(t, "AI Agent", tools[0][0].Node)
		}
	}
	for _, typ := range []string{"@n8n/n8n-nodes-langchain.agent", "@n8n/n8n-nodes-langchain.mcpClientTool", "@n8n/n8n-nodes-langchain.chatTrigger"} {
		assert.Equal(t, 1, byType[typ], typ)
	}
	assert.Equal(t, []string{"Settings"}, flow.next("When chat message received", 0))
	assert.Equal(t, []string{"AI Agent"}, flow.next("Settings", 0))
	assert.Equal(t, true, flow.node(t, "Settings").Parameters["includeOtherFields"], "the chat message passes through")
}

// The notification flow takes only the service's requests (its webhook wants
// the callback JWT), checks that the token is about the event in the body,
// mails each delivery once, and mails each approver their link.
func TestN8nNotifyFlow(t *testing.T) {
	flow := readFlow(t, "approval-notify-flow.json")
	byType := map[string]int{}
	for _, n := range flow.Nodes {
		byType[n.Type]++
		switch n.Type {
		case "n8n-nodes-base.webhook":
			assert.Equal(t, "POST", n.Parameters["httpMethod"])
			assert.Equal(t, "jwtAuth", n.Parameters["authentication"])
			assert.Equal(t, "AI Rails callback JWT", n.Credentials["jwtAuth"]["name"])
		case "n8n-nodes-base.code":
			code := n.Parameters["jsCode"].(string)
			for _, want := range []string{"jwtPayload", "claims.sub !== event.approval_id", "claims.event !== event.event", "seen.deliveries[claims.jti]", "approval.requested", "approval.reminder"} {
				assert.Contains(t, code, want)
			}
		case "n8n-nodes-base.emailSend":
			assert.Contains(t, n.Credentials["smtp"]["name"], "placeholder")
			assert.Contains(t, n.Parameters["text"], "$json.link")
		}
	}
	for _, typ := range []string{"n8n-nodes-base.webhook", "n8n-nodes-base.code", "n8n-nodes-base.emailSend"} {
		assert.Equal(t, 1, byType[typ], typ)
	}
}

package lambdahttp

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The example n8n flow sends an Idempotency-Key on every write: a run key
// made once in its Inputs node, then the node's own name, so that n8n's
// retry of a step reuses the key, and another run (or another n8n, whose
// execution ids start again at 1) never does.
func TestN8nFlowSendsIdempotencyKeys(t *testing.T) {
	for _, name := range []string{"approval-flow.json", "approval-links-flow.json"} {
		t.Run(name, func(t *testing.T) { checkN8nFlow(t, name) })
	}
}

func checkN8nFlow(t *testing.T, name string) {
	raw, err := os.ReadFile(filepath.Join(moduleRoot(t), "..", "events", "n8n", name))
	require.NoError(t, err)
	if name == "approval-links-flow.json" {
		// Two of three approvers; the execution waits on its resume URL for
		// the outcome. It never handles the links, which go to the
		// notification endpoint (approval-notify-flow.json).
		for _, want := range []string{"approvers: $('Inputs').item.json.approvers.split(',')", "min_approvals:", "callback_url: $execution.resumeUrl",
			`"type": "n8n-nodes-base.wait"`} {
			assert.Contains(t, string(raw), want)
		}
		for _, never := range []string{"$json.links", "emailSend"} {
			assert.NotContains(t, string(raw), never)
		}
	}
	var flow struct {
		Nodes []struct {
			Name       string         `json:"name"`
			Type       string         `json:"type"`
			Parameters map[string]any `json:"parameters"`
		} `json:"nodes"`
	}
	require.NoError(t, json.Unmarshal(raw, &flow))
	runKey, writes, seen := "", 0, map[string]bool{}
	for _, n := range flow.Nodes {
		if n.Name == "Inputs" {
			for _, a := range n.Parameters["assignments"].(map[string]any)["assignments"].([]any) {
				if a.(map[string]any)["name"] == "run_key" {
					runKey = a.(map[string]any)["value"].(string)
				}
			}
		}
		if n.Type != "n8n-nodes-base.httpRequest" || n.Parameters["method"] == "GET" {
			continue
		}
		writes++
		var key string
		if hp, ok := n.Parameters["headerParameters"].(map[string]any); ok {
			for _, h := range hp["parameters"].([]any) {
				if h.(map[string]any)["name"] == "Idempotency-Key" {
					key = h.(map[string]any)["value"].(string)
				}
			}
		}
		assert.Equal(t, true, n.Parameters["sendHeaders"], n.Name)
		assert.Contains(t, key, "$('Inputs').item.json.run_key", "%s derives its key from the run key", n.Name)
		assert.NotContains(t, key, "$execution.id", "%s: execution ids repeat across n8n instances", n.Name)
		assert.False(t, seen[key], "%s has a key of its own", n.Name)
		seen[key] = true
	}
	assert.Equal(t, 4, writes)
	assert.Contains(t, runKey, "Math.random()", "the run key is random")
	assert.False(t, strings.Contains(runKey, "$execution.id"))
}

// n8nFlow is an example flow's nodes and connections.
type n8nFlow struct {
	ID    string `json:"id"`
	Nodes []struct {
		Name        string                    `json:"name"`
		Type        string                    `json:"type"`
		Parameters  map[string]any            `json:"parameters"`
		Credentials map[string]map[string]any `json:"credentials"`
	} `json:"nodes"`
	Connections map[string]map[string][][]struct {
		Node string `json:"node"`
		Type string `json:"type"`
	} `json:"connections"`
}

func readFlow(t *testing.T, name string) n8nFlow {
	raw, err := os.ReadFile(filepath.Join(moduleRoot(t), "..", "events", "n8n", name))
	require.NoError(t, err)
	var flow n8nFlow
	require.NoError(t, json.Unmarshal(raw, &flow))
	assert.NotEmpty(t, flow.ID, "n8n import:workflow needs an id")
	return flow
}

// The agent flow gives n8n's AI Agent the service's MCP server through the
// MCP Client Tool (Streamable HTTP, the API key as a header credential).
func TestN8nAgentMCPFlow(t *testing.T) {
	flow := readFlow(t, "agent-mcp-flow.json")
	byType := map[string]int{}
	for _, n := range flow.Nodes {
		byType[n.Type]++
		if n.Type == "@n8n/n8n-nodes-langchain.mcpClientTool" {
			assert.True(t, strings.HasSuffix(n.Parameters["endpointUrl"].(string), "/mcp"))
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
}

// The notification flow receives approval.requested and reminders on a
// webhook that checks each signature before it mails an approver their
// link.
func TestN8nNotifyFlow(t *testing.T) {
	flow := readFlow(t, "approval-notify-flow.json")
	byType := map[string]int{}
	for _, n := range flow.Nodes {
		byType[n.Type]++
		switch n.Type {
		case "n8n-nodes-base.webhook":
			assert.Equal(t, "POST", n.Parameters["httpMethod"])
			assert.Equal(t, true, n.Parameters["options"].(map[string]any)["rawBody"], "the signature covers the raw body")
		case "n8n-nodes-base.code":
			code := n.Parameters["jsCode"].(string)
			for _, want := range []string{"x-airails-signature-256", "createHmac('sha256'", "timingSafeEqual", "approval.requested", "approval.reminder"} {
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

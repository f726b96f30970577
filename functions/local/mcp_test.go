package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/redistest"
)

// TestOfficialMCPClient runs the official MCP TypeScript SDK's client
// (scripts/mcp-sdk-check) against /mcp of the stack make run starts: every
// tool, the API key, errors, and the approver's link going to the
// notification endpoint and nowhere else.
func TestOfficialMCPClient(t *testing.T) {
	dir, err := filepath.Abs("../../scripts/mcp-sdk-check")
	require.NoError(t, err)
	_, nodeErr := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk"))
	if nodeErr != nil || modErr != nil {
		msg := "node and the MCP SDK are needed: run npm ci --prefix scripts/mcp-sdk-check (make test does)"
		if redistest.Required() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var mu sync.Mutex
	var notified []map[string]any
	notify := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var p map[string]any
		_ = json.Unmarshal(raw, &p)
		mu.Lock()
		notified = append(notified, p)
		mu.Unlock()
	}))
	defer notify.Close()
	const key = "mcp-check-key"
	c := startChild(t, "LOCAL_ADDR=127.0.0.1:0", "LOCAL_REST_ADDR=127.0.0.1:0", "LOCAL_VECTOR_ADDR=127.0.0.1:0",
		"DATA_DIR="+t.TempDir(), "API_KEY="+key, "APPROVAL_NOTIFY_URL="+notify.URL+"/approvals")

	cmd := exec.Command("node", "check.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MCP_URL="+c.apiURL+"/mcp", "API_KEY="+key)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "MCP SDK checks:\n%s", out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var summary struct {
		OK         bool   `json:"ok"`
		ApprovalID string `json:"approval_id"`
		Tools      int    `json:"tools"`
	}
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &summary), "%s", out)
	assert.True(t, summary.OK)
	assert.Equal(t, 9, summary.Tools)

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, notified, 1, "approval.requested, to the notification endpoint")
	assert.Equal(t, "approval.requested", notified[0]["event"])
	assert.Equal(t, summary.ApprovalID, notified[0]["approval_id"])
	links := notified[0]["links"].(map[string]any)
	assert.True(t, strings.HasPrefix(links["alice"].(string), c.apiURL+"/approve/"), "%v", links)
}

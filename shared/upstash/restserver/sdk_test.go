package restserver_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ai-rails/state-service/shared/redistest"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
)

// TestOfficialTypeScriptSDK runs Upstash's own @upstash/redis SDK (pinned in
// scripts/upstash-sdk-check) against the server over each backend: the
// server is a drop-in for Upstash if the official client cannot tell.
func TestOfficialTypeScriptSDK(t *testing.T) {
	dir, err := filepath.Abs("../../../scripts/upstash-sdk-check")
	if err != nil {
		t.Fatal(err)
	}
	_, nodeErr := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "@upstash", "redis"))
	if nodeErr != nil || modErr != nil {
		msg := "node and the SDK are needed: run npm ci --prefix scripts/upstash-sdk-check"
		if redistest.Required() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	for _, b := range upstashtest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			cmd := exec.Command("node", "check.mjs")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "UPSTASH_REDIS_REST_URL="+b.URL, "UPSTASH_REDIS_REST_TOKEN="+upstashtest.Token)
			out, err := cmd.CombinedOutput()
			assert.NoError(t, err, "SDK checks:\n%s", out)
		})
	}
}

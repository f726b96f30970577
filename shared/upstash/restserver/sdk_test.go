package restserver_test

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ai-rails/state-service/shared/embedded"
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
	// The local stack's embedded store, with its clock and journal.
	store, err := embedded.Open(context.Background(), embedded.Options{Dir: t.TempDir(), Token: upstashtest.Token, Fsync: embedded.EverySec})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(store.Handler())
	t.Cleanup(func() { hs.CloseClientConnections(); hs.Close(); _ = store.Close() })
	targets := map[string]string{"embedded": hs.URL}
	clock := map[string]string{"embedded": "on", "redis": "on", "miniredis": "off"} // plain miniredis's clock stands still
	for _, b := range upstashtest.Backends(t) {
		targets[b.Name] = b.URL
	}
	for name, url := range targets {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command("node", "check.mjs")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "UPSTASH_REDIS_REST_URL="+url, "UPSTASH_REDIS_REST_TOKEN="+upstashtest.Token, "SDK_CHECK_CLOCK="+clock[name])
			out, err := cmd.CombinedOutput()
			assert.NoError(t, err, "SDK checks:\n%s", out)
		})
	}
}

package vectorserver_test

import (
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/embedded"
	"github.com/ai-rails/state-service/shared/failures"
	"github.com/ai-rails/state-service/shared/redistest"
	"github.com/ai-rails/state-service/shared/upstashvector/vectorserver"
)

// TestOfficialTypeScriptSDK runs Upstash's own @upstash/vector SDK (pinned
// in scripts/upstash-sdk-check) against the server, as the local stack
// runs it: journaled, with the failure memory's dimension and embedding.
func TestOfficialTypeScriptSDK(t *testing.T) {
	dir, err := filepath.Abs("../../../scripts/upstash-sdk-check")
	require.NoError(t, err)
	_, nodeErr := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "@upstash", "vector"))
	if nodeErr != nil || modErr != nil {
		msg := "node and the SDK are needed: run npm ci --prefix scripts/upstash-sdk-check"
		if redistest.Required() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	s, err := vectorserver.New(vectorserver.Options{Token: "sdk-token", Dimension: failures.Dimension, Embed: failures.Embed,
		Dir: t.TempDir(), Fsync: embedded.Always})
	require.NoError(t, err)
	hs := httptest.NewServer(s)
	t.Cleanup(func() { hs.Close(); _ = s.Close() })
	cmd := exec.Command("node", "vector-check.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "UPSTASH_VECTOR_REST_URL="+hs.URL, "UPSTASH_VECTOR_REST_TOKEN=sdk-token",
		"VECTOR_DIMENSION="+strconv.Itoa(failures.Dimension))
	out, err := cmd.CombinedOutput()
	assert.NoError(t, err, "SDK checks:\n%s", out)
	t.Logf("%s", out)
}

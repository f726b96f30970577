package servicetest_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The domain packages hold types, rules and the interfaces of their
// services, and nothing else: no store, no HTTP, no webhook sender, in
// what they import directly or through others.
func TestDomainsImportNoAdapter(t *testing.T) {
	const mod = "github.com/ai-rails/state-service/shared/"
	adapters := []string{"upstash", "redisstore", "storekit", "idempotency", "handlers", "httpkit", "webhook", "wiring", "embedded", "backup", "sweep", "restclient", "upstashvector"}
	for _, domain := range []string{"workflow", "lock", "approval", "results", "testhistory", "failures", "identity", "keys"} {
		out, err := exec.Command("go", "list", "-deps", mod+domain).Output()
		require.NoError(t, err, domain)
		deps := map[string]bool{}
		for _, d := range strings.Fields(string(out)) {
			deps[d] = true
		}
		for _, a := range adapters {
			assert.False(t, deps[mod+a], "%s imports %s", domain, a)
		}
		assert.False(t, deps["net/http"], "%s imports net/http", domain)
	}
}

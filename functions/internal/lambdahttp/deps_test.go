package lambdahttp

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// No Lambda binary links test tooling: net/http/httptest, testing, or the
// project's test helpers.
func TestLambdasLinkNoTestTooling(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "./workflow", "./approval", "./results", "./sweeper")
	cmd.Dir = moduleRoot(t)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case pkg == "net/http/httptest", pkg == "testing",
			strings.HasSuffix(pkg, "/redistest"), strings.HasSuffix(pkg, "/upstashtest"), strings.HasSuffix(pkg, "/servicetest"):
			t.Errorf("a Lambda binary links %s", pkg)
		}
	}
}

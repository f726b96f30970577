package lambdahttp

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/lambdatest"
	"github.com/ai-rails/state-service/shared/servicetest"
	"github.com/ai-rails/state-service/shared/upstash/upstashtest"
)

// moduleRoot is the functions module's folder.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	require.NoError(t, err)
	return filepath.Dir(strings.TrimSpace(string(out)))
}

func goBuild(t *testing.T, dir, out string, args ...string) {
	t.Helper()
	require.NoError(t, lambdatest.Build(context.Background(), dir, out, args...))
}

// startRIE runs bootstrap under the Lambda Runtime Interface Emulator, the
// engine sam local uses, and returns it; it stops when the test ends.
func startRIE(t *testing.T, rie, bootstrap string, env []string) (string, *lambdatest.Emulator) {
	t.Helper()
	e, err := lambdatest.Start(rie, bootstrap, env)
	require.NoError(t, err)
	t.Cleanup(func() {
		e.Stop()
		if t.Failed() {
			t.Logf("emulator output:\n%s", e.Logs())
		}
	})
	return e.URL, e
}

// logInit logs the binary's size and the emulator's INIT duration, the cold
// start figures.
func logInit(t *testing.T, fn, bootstrap string, e *lambdatest.Emulator) {
	fi, err := os.Stat(bootstrap)
	require.NoError(t, err)
	init := "?"
	if ms, ok := e.InitMs(); ok {
		init = fmt.Sprintf("%.1f ms", ms)
	}
	t.Logf("%s: bootstrap %.1f MB, INIT %s", fn, float64(fi.Size())/(1<<20), init)
}

func invoke(t *testing.T, url string, event []byte) events.APIGatewayProxyResponse {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(event))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out events.APIGatewayProxyResponse
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

// TestBuiltBinariesUnderRIE builds each HTTP function as make build does
// (for this machine's architecture), runs it under the emulator and invokes
// it with events/health.json.
func TestBuiltBinariesUnderRIE(t *testing.T) {
	root := moduleRoot(t)
	bin := t.TempDir()
	rie := filepath.Join(bin, "aws-lambda-rie")
	goBuild(t, root, rie, lambdatest.Package)
	event, err := os.ReadFile(filepath.Join(root, "..", "events", "health.json"))
	require.NoError(t, err)
	b := upstashtest.Mini(t)

	for _, fn := range []string{"workflow", "approval", "results", "mcp"} {
		t.Run(fn, func(t *testing.T) {
			dir := filepath.Join(bin, fn)
			require.NoError(t, os.MkdirAll(dir, 0o755))
			bootstrap := filepath.Join(dir, "bootstrap")
			goBuild(t, root, bootstrap, "-tags", "lambda.norpc", "./"+fn)
			env := []string{
				"UPSTASH_REDIS_REST_URL=" + b.URL, "UPSTASH_REDIS_REST_TOKEN=" + upstashtest.Token,
				"AWS_LAMBDA_FUNCTION_TIMEOUT=10", "WEBHOOK_SECRET=" + servicetest.WebhookSecret, "ALLOW_INSECURE_CALLBACKS=true", "WEBHOOK_BUDGET=300ms",
			}
			if fn == "results" || fn == "mcp" {
				for k, v := range vectorEnv(t) {
					env = append(env, k+"="+v)
				}
			}
			var notify *notifyReceiver
			if fn == "mcp" {
				notify = newNotifyReceiver(t)
				env = append(env, "APPROVAL_NOTIFY_URL="+notify.URL, "APPROVAL_LINK_SECRET=test-link-secret", "PUBLIC_BASE_URL=https://api.example.com")
			}
			url, logs := startRIE(t, rie, bootstrap, env)
			out := invoke(t, url, event)
			assert.Equal(t, http.StatusOK, out.StatusCode, out.Body)
			assert.Equal(t, []string{"no-store"}, out.MultiValueHeaders["Cache-Control"])
			assert.Equal(t, []string{"sample-health-1"}, out.MultiValueHeaders["X-Request-Id"])
			assert.Equal(t, []string{"application/json"}, out.MultiValueHeaders["Content-Type"])
			var body map[string]any
			require.NoError(t, json.Unmarshal([]byte(out.Body), &body))
			assert.Equal(t, "healthy", body["status"])
			assert.Equal(t, "local", body["store"].(map[string]any)["backend"])
			logInit(t, fn, bootstrap, logs)
			switch fn {
			case "workflow":
				runWorkflowEvents(t, func(raw []byte) events.APIGatewayProxyResponse { return invoke(t, url, raw) }, b)
			case "results":
				runResultsEvents(t, func(raw []byte) events.APIGatewayProxyResponse { return invoke(t, url, raw) })
			case "approval":
				seedWorkflow(t, b)
				runApprovalEvents(t, func(raw []byte) events.APIGatewayProxyResponse { return invoke(t, url, raw) })
			case "mcp":
				seedWorkflow(t, b)
				runMCPEvents(t, func(raw []byte) events.APIGatewayProxyResponse { return invoke(t, url, raw) })
				runMCPClient(t, gateway(t, url), notify)
			}
		})
	}

	t.Run("sweeper", func(t *testing.T) {
		dir := filepath.Join(bin, "sweeper")
		require.NoError(t, os.MkdirAll(dir, 0o755))
		bootstrap := filepath.Join(dir, "bootstrap")
		goBuild(t, root, bootstrap, "-tags", "lambda.norpc", "./sweeper")
		s3srv := httptest.NewServer(gofakes3.New(s3mem.New(), gofakes3.WithAutoBucket(true)).Server())
		defer s3srv.Close()
		url, logs := startRIE(t, rie, bootstrap, []string{
			"UPSTASH_REDIS_REST_URL=" + b.URL, "UPSTASH_REDIS_REST_TOKEN=" + upstashtest.Token,
			"AWS_LAMBDA_FUNCTION_TIMEOUT=10", "WEBHOOK_SECRET=" + servicetest.WebhookSecret,
			"BACKUP_BUCKET=ai-rails-backups", "AWS_ENDPOINT_URL_S3=" + s3srv.URL, "BACKUP_S3_PATH_STYLE=true",
			"AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=SECRET", "AWS_REGION=eu-west-1", "AWS_CA_BUNDLE=",
		})
		call := func(name string) map[string]any {
			ev, err := os.ReadFile(filepath.Join(root, "..", "events", "sweeper", name))
			require.NoError(t, err)
			resp, err := http.Post(url, "application/json", bytes.NewReader(ev))
			require.NoError(t, err)
			defer resp.Body.Close()
			var out map[string]any
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
			return out
		}
		rep := call("sweep.json")
		assert.Equal(t, false, rep["skipped"], "%v", rep)
		assert.Contains(t, rep, "expired")
		assert.Contains(t, rep, "pruned")
		m := call("backup.json")
		assert.Contains(t, m["location"], "s3://ai-rails-backups/backups/", "%v\n%s", m, logs.Logs())
		assert.Positive(t, m["keys"])
		logInit(t, "sweeper", bootstrap, logs)
	})

	t.Run("bad configuration fails the init", func(t *testing.T) {
		bootstrap := filepath.Join(bin, "workflow", "bootstrap")
		url, logs := startRIE(t, rie, bootstrap, []string{"UPSTASH_REDIS_REST_URL=", "UPSTASH_REDIS_REST_TOKEN=", "AWS_LAMBDA_FUNCTION_TIMEOUT=10"})
		resp, err := http.Post(url, "application/json", bytes.NewReader(event))
		require.NoError(t, err)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.NotContains(t, string(raw), `"statusCode":200`)
		// The emulator may answer before it has logged the failure.
		assert.Eventually(t, func() bool {
			s := logs.Logs()
			return strings.Contains(s, "init: configuration: UPSTASH_REDIS_REST_URL is required") &&
				strings.Contains(s, "Runtime.ExitError")
		}, 5*time.Second, 10*time.Millisecond, "the init failure is not in the emulator's log")
	})
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/config"
)

// testEnv is a configuration on free ports with its own data folder.
func testEnv(t *testing.T) map[string]string {
	return map[string]string{"LOCAL_ADDR": "127.0.0.1:0", "LOCAL_REST_ADDR": "127.0.0.1:0", "LOCAL_VECTOR_ADDR": "127.0.0.1:0", "DATA_DIR": t.TempDir()}
}

func TestRunStopsWhenCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, config.MapLookup(testEnv(t)), &out, io.Discard) }()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
	assert.Contains(t, out.String(), "stopped")
	assert.Error(t, run(context.Background(), config.MapLookup(map[string]string{"LOG_LEVEL": "loud", "DATA_DIR": t.TempDir()}), io.Discard, io.Discard))
}

// A setting it cannot read, or a port that is taken, stops run before it
// serves, with the reason.
func TestRunRefusesToStart(t *testing.T) {
	env := testEnv(t)
	env["LOCAL_FSYNC"] = "sometimes"
	assert.ErrorContains(t, run(context.Background(), config.MapLookup(env), io.Discard, io.Discard), "LOCAL_FSYNC")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	env = testEnv(t)
	env["LOCAL_ADDR"] = l.Addr().String()
	var out bytes.Buffer
	assert.ErrorContains(t, run(context.Background(), config.MapLookup(env), &out, io.Discard), "address already in use")
	assert.NotContains(t, out.String(), "stopped", "it never started")
}

// TestSignalsStopTheBinary builds the command and checks that SIGINT and
// SIGTERM stop it cleanly, with exit status 0.
func TestSignalsStopTheBinary(t *testing.T) {
	bin := localBinary(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin)
			cmd.Env = append(os.Environ(), "LOCAL_ADDR=127.0.0.1:0", "LOCAL_REST_ADDR=127.0.0.1:0", "LOCAL_VECTOR_ADDR=127.0.0.1:0", "DATA_DIR="+t.TempDir())
			stdout, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			sc := bufio.NewScanner(stdout)
			var apiURL string
			for sc.Scan() {
				if u, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "API "); ok {
					apiURL = strings.TrimSpace(u)
				}
				if strings.Contains(sc.Text(), "Ctrl-C stops it") {
					break
				}
			}
			require.NotEmpty(t, apiURL)
			resp, err := http.Get(apiURL + "/api/health")
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)

			require.NoError(t, cmd.Process.Signal(sig))
			rest, _ := io.ReadAll(stdout)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				assert.NoError(t, err, "exit status")
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatal("the stack did not stop")
			}
			assert.Contains(t, string(rest), "stopped")
		})
	}
}

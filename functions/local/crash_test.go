package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// localBinary builds this command once for the package's tests.
func localBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "local-bin")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "local")
		build := exec.Command("go", "build", "-o", builtBin, ".")
		build.Stderr = os.Stderr
		buildErr = build.Run()
	})
	require.NoError(t, buildErr)
	return builtBin
}

// child is the local stack running as a child process.
type child struct {
	cmd    *exec.Cmd
	apiURL string
}

// startChild starts the stack with env and waits for its banner.
func startChild(t *testing.T, env ...string) *child {
	t.Helper()
	cmd := exec.Command(localBinary(t))
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = io.Discard
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	c := &child{cmd: cmd}
	for sc.Scan() {
		if u, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "API "); ok {
			c.apiURL = strings.TrimSpace(u)
		}
		if strings.Contains(sc.Text(), "Ctrl-C stops it") {
			break
		}
	}
	require.NotEmpty(t, c.apiURL, "the stack printed its address")
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return c
}

// kill9 stops the child with SIGKILL: no shutdown, no final snapshot.
func (c *child) kill9() {
	_ = c.cmd.Process.Kill()
	_ = c.cmd.Wait()
}

const crashKey = "crash-test-key"

// call makes one API call; ok is false when no answer came.
func (c *child) call(ctx context.Context, method, path, body string) (status int, out map[string]any, ok bool) {
	req, err := http.NewRequestWithContext(ctx, method, c.apiURL+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, false
	}
	req.Header.Set("x-api-key", crashKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := crashHTTP.Do(req)
	if err != nil {
		return 0, nil, false
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, false
	}
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out, true
}

var crashHTTP = &http.Client{Timeout: 10 * time.Second}

// acked is what the stack acknowledged: for each workflow, the highest
// version and the metadata it was written with; for each approval, its
// decision ("" while pending).
type acked struct {
	mu        sync.Mutex
	versions  map[string]int64
	marks     map[string]float64 // metadata.n at that version
	approvals map[string]string
	writes    int
}

func (a *acked) workflow(id string, version int64, n float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.writes++
	if version > a.versions[id] {
		a.versions[id], a.marks[id] = version, n
	}
}

func (a *acked) approval(id, decision string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.writes++
	a.approvals[id] = decision
}

// writer creates its workflows and patches them, asks for approvals and
// decides them, until ctx ends, recording every acknowledged write.
func writer(ctx context.Context, c *child, round, w int, a *acked) {
	for n := 0; ctx.Err() == nil; n++ {
		id := fmt.Sprintf("CRS-%d%d%04d", round, w, n%10000)
		status, body, ok := c.call(ctx, "POST", "/api/workflow/state", fmt.Sprintf(`{"workflow_id":%q,"feature_description":"crash","metadata":{"n":0}}`, id))
		if !ok || status != http.StatusCreated {
			continue
		}
		a.workflow(id, int64(body["version"].(float64)), 0)
		for i := 1; i <= 3 && ctx.Err() == nil; i++ {
			status, body, ok = c.call(ctx, "PATCH", "/api/workflow/state/"+id, fmt.Sprintf(`{"metadata":{"n":%d}}`, i))
			if ok && status == http.StatusOK {
				a.workflow(id, int64(body["version"].(float64)), float64(i))
			}
		}
		status, body, ok = c.call(ctx, "POST", "/api/approval", fmt.Sprintf(`{"workflow_id":%q,"request_type":"deploy","content":"ship","requester":"bot"}`, id))
		if !ok || status != http.StatusCreated {
			continue
		}
		aid := body["approval_id"].(string)
		a.approval(aid, "")
		decision := []string{"approved", "rejected"}[n%2]
		status, _, ok = c.call(ctx, "POST", "/api/approval/"+aid+"/decision", fmt.Sprintf(`{"decision":%q,"approver":"alice"}`, decision))
		if ok && status == http.StatusOK {
			a.approval(aid, decision)
		}
	}
}

// TestKill9LosesNoAcknowledgedWrite runs the local stack as a child
// process over the embedded store, writes to it from several clients,
// kills it with SIGKILL at a random moment, restarts it, and checks that
// every acknowledged write reads back: no workflow version goes backwards,
// and no decided approval reads undecided. It does this several times, with
// both fsync settings.
func TestKill9LosesNoAcknowledgedWrite(t *testing.T) {
	for _, fsync := range []string{"always", "everysec"} {
		t.Run(fsync, func(t *testing.T) {
			env := []string{"LOCAL_ADDR=127.0.0.1:0", "LOCAL_REST_ADDR=127.0.0.1:0", "LOCAL_VECTOR_ADDR=127.0.0.1:0", "DATA_DIR=" + t.TempDir(),
				"API_KEY=" + crashKey, "LOCAL_FSYNC=" + fsync, "LOG_LEVEL=error"}
			a := &acked{versions: map[string]int64{}, marks: map[string]float64{}, approvals: map[string]string{}}
			const rounds, writers = 4, 6
			for round := range rounds {
				c := startChild(t, env...)
				verify(t, c, a, round)
				ctx, stop := context.WithCancel(context.Background())
				var wg sync.WaitGroup
				for w := range writers {
					wg.Add(1)
					go func() { defer wg.Done(); writer(ctx, c, round, w, a) }()
				}
				time.Sleep(time.Duration(150+rand.IntN(600)) * time.Millisecond)
				c.kill9()
				stop()
				wg.Wait()
			}
			c := startChild(t, env...)
			verify(t, c, a, rounds)
		})
	}
}

// verify reads back every acknowledged write.
func verify(t *testing.T, c *child, a *acked, round int) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	ctx := context.Background()
	decided := 0
	for id, v := range a.versions {
		status, body, ok := c.call(ctx, "GET", "/api/workflow/state/"+id, "")
		require.True(t, ok)
		if !assert.Equal(t, http.StatusOK, status, "acknowledged workflow %s is there", id) {
			continue
		}
		got := int64(body["version"].(float64))
		assert.GreaterOrEqual(t, got, v, "workflow %s: the version does not go backwards", id)
		if got == v {
			assert.Equal(t, a.marks[id], body["metadata"].(map[string]any)["n"], "workflow %s holds its last acknowledged write", id)
		}
		a.versions[id], a.marks[id] = got, body["metadata"].(map[string]any)["n"].(float64)
	}
	for id, want := range a.approvals {
		status, body, ok := c.call(ctx, "GET", "/api/approval/"+id, "")
		require.True(t, ok)
		if !assert.Equal(t, http.StatusOK, status, "acknowledged approval %s is there", id) {
			continue
		}
		if want != "" {
			decided++
			assert.Equal(t, want, body["status"], "decided approval %s keeps its decision", id)
		} else if body["status"] != "pending" {
			a.approvals[id] = body["status"].(string) // an unacknowledged decision landed: it must stay
		}
	}
	t.Logf("round %d: %d acknowledged writes so far; %d workflows, %d approvals (%d decided) read back", round, a.writes, len(a.versions), len(a.approvals), decided)
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// functions are the Lambda functions that make build packages.
var functions = []string{"workflow", "approval", "results", "sweeper"}

// buildFunctions builds each function as scripts/build.sh does, for this
// machine's architecture, and the Runtime Interface Emulator. It returns
// the bootstraps by function and the emulator's path.
func buildFunctions(ctx context.Context, root, dir string) (map[string]string, string, error) {
	out := map[string]string{}
	for _, fn := range functions {
		bin := filepath.Join(dir, fn, "bootstrap")
		if err := goBuild(ctx, root, bin, "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "./"+fn); err != nil {
			return nil, "", err
		}
		out[fn] = bin
	}
	rie := filepath.Join(dir, "aws-lambda-rie")
	if err := goBuild(ctx, root, rie, "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"); err != nil {
		return nil, "", err
	}
	return out, rie, nil
}

func goBuild(ctx context.Context, root, out string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-o", out}, args...)...)
	cmd.Dir = filepath.Join(root, "functions")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return nil
}

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// coldStart starts bootstrap under the emulator n times, invokes it once
// each time with event, and returns the median INIT duration in ms.
func coldStart(ctx context.Context, rie, bootstrap string, env []string, event []byte, n int) (float64, error) {
	var inits []float64
	for range n {
		ms, err := coldStartOnce(ctx, rie, bootstrap, env, event)
		if err != nil {
			return 0, err
		}
		inits = append(inits, ms)
	}
	slices.Sort(inits)
	return inits[len(inits)/2], nil
}

func coldStartOnce(ctx context.Context, rie, bootstrap string, env []string, event []byte) (float64, error) {
	api, invoke, err := freeAddr(), freeAddr(), error(nil)
	cmd := exec.CommandContext(ctx, rie, "--runtime-api-address", api, "--runtime-interface-emulator-address", invoke, bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = append(os.Environ(), env...)
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err = cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	url := "http://" + invoke + "/2015-03-31/functions/function/invocations"
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", invoke); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the emulator did not listen: %s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(event))
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	for deadline = time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if m := initReport.FindStringSubmatch(logs.String()); m != nil {
			return strconv.ParseFloat(m[1], 64)
		}
	}
	return 0, fmt.Errorf("no INIT REPORT in the emulator's log:\n%s", logs.String())
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// lockedBuffer is a bytes.Buffer safe for a process's concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

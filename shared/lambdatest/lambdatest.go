// Package lambdatest runs a built Lambda bootstrap under the Lambda Runtime
// Interface Emulator, the engine behind sam local: the RIE tests and the
// load test's cold-start figures use it.
package lambdatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Package is the emulator's command, which go.mod pins.
const Package = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

// Build runs go build in moduleDir for linux and this machine's
// architecture, without cgo, as scripts/build.sh builds the functions.
func Build(ctx context.Context, moduleDir, out string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-o", out}, args...)...)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return nil
}

// Emulator is one running emulator with its function.
type Emulator struct {
	// URL is where to POST an event to invoke the function.
	URL  string
	cmd  *exec.Cmd
	logs *Logs
}

// Start runs bootstrap under the emulator at rie, with env added to this
// process's environment, on addresses of its own, and waits until it listens.
// A free port can be taken by another process between choosing it and the
// emulator binding it; Start then tries again on other ports.
func Start(rie, bootstrap string, env []string) (*Emulator, error) {
	var err error
	for range 5 {
		var e *Emulator
		if e, err = start(rie, bootstrap, env); !errors.Is(err, errPortTaken) {
			return e, err
		}
	}
	return nil, err
}

var errPortTaken = errors.New("lambdatest: a port the emulator was to use was taken")

func start(rie, bootstrap string, env []string) (*Emulator, error) {
	api, err := freeAddr()
	if err != nil {
		return nil, err
	}
	invoke, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(rie, "--runtime-api-address", api, "--runtime-interface-emulator-address", invoke, bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = append(os.Environ(), env...)
	e := &Emulator{URL: "http://" + invoke + "/2015-03-31/functions/function/invocations", cmd: cmd, logs: &Logs{}}
	cmd.Stdout, cmd.Stderr = e.logs, e.logs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if strings.Contains(e.logs.String(), "address already in use") {
			e.Stop()
			return nil, errPortTaken
		}
		if c, err := net.Dial("tcp", invoke); err == nil {
			c.Close()
			// Both listeners come up together; a bind that failed shows
			// in the log within moments.
			time.Sleep(100 * time.Millisecond)
			if strings.Contains(e.logs.String(), "address already in use") {
				e.Stop()
				return nil, errPortTaken
			}
			return e, nil
		}
	}
	e.Stop()
	return nil, fmt.Errorf("the emulator did not listen on %s:\n%s", invoke, e.logs)
}

// Stop kills the emulator and its function.
func (e *Emulator) Stop() {
	_ = e.cmd.Process.Kill()
	_ = e.cmd.Wait()
}

// Logs is what the emulator and the function printed so far.
func (e *Emulator) Logs() string { return e.logs.String() }

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// InitMs is the INIT duration the emulator reported, in milliseconds, once
// it has. The emulator prints it only when LOG_LEVEL (which it reads too)
// lets its info lines through.
func (e *Emulator) InitMs() (float64, bool) {
	m := initReport.FindStringSubmatch(e.logs.String())
	if m == nil {
		return 0, false
	}
	ms, err := strconv.ParseFloat(m[1], 64)
	return ms, err == nil
}

// WaitInitMs waits up to d for the INIT duration.
func (e *Emulator) WaitInitMs(d time.Duration) (float64, error) {
	for end := time.Now().Add(d); ; time.Sleep(5 * time.Millisecond) {
		if ms, ok := e.InitMs(); ok {
			return ms, nil
		}
		if time.Now().After(end) {
			return 0, fmt.Errorf("no INIT REPORT in the emulator's log:\n%s", e.logs)
		}
	}
}

// Logs is a buffer safe for a process's concurrent writes.
type Logs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/ai-rails/state-service/shared/lambdatest"
)

// proc is a server that the load test runs as a process of its own, so that
// its CPU time is its own: the API, the bare path, the REST server.
type proc struct {
	name   string
	cmd    *exec.Cmd
	URL    string // where it serves
	Pprof  string // its net/http/pprof base URL, when it serves one
	exited chan struct{}
	stderr *lambdatest.Logs
}

// startProc runs bin with args and env (added to this process's
// environment) and waits until it serves: until the local stack's banner
// ends ("Ctrl-C stops it."), having named its "API" URL, or benchserve says
// "listening" and where. A "pprof" line gives the profile URL.
func startProc(name, bin string, env []string, args ...string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	p := &proc{name: name, cmd: cmd, exited: make(chan struct{}), stderr: &lambdatest.Logs{}}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { _ = cmd.Wait(); close(p.exited) }()

	found := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ready := false
		for !ready && sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 0 {
				continue
			}
			switch {
			case f[0] == "pprof" && len(f) > 1:
				p.Pprof = strings.TrimSuffix(f[1], "/debug/pprof/")
			case (f[0] == "API" || f[0] == "listening") && len(f) > 1:
				p.URL = f[1]
			}
			ready = f[0] == "listening" || f[0] == "Ctrl-C" // the last line of each
		}
		if ready && p.URL != "" {
			found <- nil
		} else {
			found <- errors.New("it ended its output without naming its URL")
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case err = <-found:
	case <-time.After(60 * time.Second):
		err = errors.New("it did not name its URL within 60 s")
	}
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("%s: %w; its stderr: %s", name, err, p.stderr)
	}
	return p, nil
}

// cpu is the CPU time, user and system, that the process has used, in
// seconds.
func (p *proc) cpu() (float64, error) { return procCPU(strconv.Itoa(p.cmd.Process.Pid)) }

// stop ends the process with SIGTERM, as Ctrl-C would, and kills it if it
// has not ended within 10 s.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// userHZ is the unit of /proc/<pid>/stat's times: USER_HZ, 100 on Linux
// for every architecture Go supports.
const userHZ = 100

// procCPU reads utime and stime of /proc/<pid>/stat ("self" for this
// process), in seconds.
func procCPU(pid string) (float64, error) {
	raw, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	return parseStatCPU(raw)
}

// parseStatCPU reads utime and stime, the 14th and 15th fields, from a
// /proc/<pid>/stat line. The command name, the second field, is in
// parentheses and may hold spaces, so the fields are counted from the last
// ")".
func parseStatCPU(raw []byte) (float64, error) {
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat: no command name in %q", raw)
	}
	f := strings.Fields(string(raw[i+1:])) // f[0] is the 3rd field, state
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields after the name", len(f))
	}
	var ticks float64
	for _, s := range f[11:13] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat: %w", err)
		}
		ticks += float64(n)
	}
	return ticks / userHZ, nil
}

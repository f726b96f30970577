// Package redistest starts real redis-server processes for tests, each on a
// free loopback port, and stops them when the test ends. Launch does the
// same for programs, such as the load and chaos tests, that are not tests.
//
// When redis-server is not installed, a test fails under CI=true (or
// REQUIRE_REDIS=1) and is skipped, with a message saying why, otherwise.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is one running redis-server.
type Server struct {
	Addr string // host:port

	bin, dir string
	args     []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// URL returns the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Required reports whether a missing redis-server must fail the test.
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("REQUIRE_REDIS") == "1"
}

// NoPersistence is the configuration Start uses: no RDB snapshots, no AOF.
var NoPersistence = []string{"--save", "", "--appendonly", "no"}

// Durable is the configuration that loses no acknowledged write when the
// process is killed: every write is in the append-only file before Redis
// answers.
var Durable = []string{"--save", "", "--appendonly", "yes", "--appendfsync", "always"}

// Start starts a redis-server with no persistence on a free port. The server
// is stopped when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return StartWith(tb, NoPersistence...)
}

// StartWith is Start with other redis-server arguments, Durable for example.
func StartWith(tb testing.TB, args ...string) *Server {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if Required() {
			tb.Fatalf("redis-server is not installed, and CI=true requires it: %v", err)
		}
		tb.Skipf("redis-server is not installed (set CI=true to make this a failure): %v", err)
	}
	s, err := Launch(bin, tb.TempDir(), args...)
	if err != nil {
		tb.Fatalf("start redis-server: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// LaunchInstalled is Launch of the redis-server on PATH.
func LaunchInstalled(dir string, args ...string) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is not installed: %w", err)
	}
	return Launch(bin, dir, args...)
}

// Launch starts bin (a redis-server) on a free loopback port with its files
// in dir, for programs that are not tests, such as the load test. It tries
// five ports before it gives up. The caller stops the server.
func Launch(bin, dir string, args ...string) (*Server, error) {
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), bin: bin, dir: dir, args: args}
		if lastErr = s.start(); lastErr == nil {
			return s, nil
		}
	}
	return nil, lastErr
}

func (s *Server) start() error {
	_, port, _ := net.SplitHostPort(s.Addr)
	args := append([]string{"--port", port, "--bind", "127.0.0.1", "--dir", s.dir,
		"--daemonize", "no", "--loglevel", "warning"}, s.args...)
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("redis-server on %s exited at start", s.Addr)
		default:
		}
		if Ping(s.Addr) == nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("redis-server on %s did not answer PING within 10s", s.Addr)
}

// Stop kills the server (SIGKILL, as a crash would) and waits for it to
// exit. It is safe to call more than once.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	_ = cmd.Process.Kill()
	<-exited
}

// Restart starts the server again on the same port, with the same files,
// after Stop. With Durable, it loads what the append-only file holds.
func (s *Server) Restart() error {
	s.Stop()
	var err error
	for range 50 { // the port can take a moment to be free again
		if err = s.start(); err == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// Ping sends PING to addr over RESP and checks for +PONG.
func Ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("unexpected answer %q", line)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

package httpkit_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/httpkit"
)

func TestNewServerSetsEveryTimeout(t *testing.T) {
	srv := httpkit.NewServer(http.NotFoundHandler(), httpkit.Timeouts{Read: time.Second})
	assert.Equal(t, time.Second, srv.ReadTimeout)
	assert.Equal(t, httpkit.DefaultTimeouts.ReadHeader, srv.ReadHeaderTimeout)
	assert.Equal(t, httpkit.DefaultTimeouts.Write, srv.WriteTimeout)
	assert.Equal(t, httpkit.DefaultTimeouts.Idle, srv.IdleTimeout)
	for _, d := range []time.Duration{srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout} {
		assert.Positive(t, d)
	}
}

// A client that sends its body a byte at a time is cut off once the read
// timeout passes, rather than holding the connection for ever.
func TestSlowClientIsCutOff(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := httpkit.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusNoContent)
	}), httpkit.Timeouts{ReadHeader: 200 * time.Millisecond, Read: 400 * time.Millisecond})
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	conn, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
	require.NoError(t, err)
	start := time.Now()
	closed := false
	for range 40 { // 40 bytes, one every 50 ms: 2 s if nothing stops it
		if _, err := conn.Write([]byte("x")); err != nil {
			closed = true
			break
		}
		time.Sleep(50 * time.Millisecond)
		_ = conn.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := bufio.NewReader(conn).ReadByte(); err != nil && !isTimeout(err) {
			closed = true
			break
		}
	}
	assert.True(t, closed, "the server closed the connection")
	assert.Less(t, time.Since(start), 1500*time.Millisecond)

	// A client that sends nothing after connecting is cut off too.
	idle, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer idle.Close()
	_ = idle.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = idle.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "closed by the server, not by our deadline")
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

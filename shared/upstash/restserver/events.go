package restserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// handleSubscribe streams messages on the channels (or patterns) in the path,
// comma-separated, as server-sent events in Upstash's format:
//
//	data: subscribe,news,1
//	data: message,news,hello
//	data: pmessage,n*,news,hello
func (s *Server) handleSubscribe(pattern bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cmd, err := ParsePath(r.URL.EscapedPath())
		if err != nil || len(cmd) < 2 {
			writeError(w, http.StatusBadRequest, "ERR wrong number of arguments for 'subscribe' command")
			return
		}
		var names []string
		for _, a := range cmd[1:] {
			names = append(names, strings.Split(a, ",")...)
		}
		var ps *redis.PubSub
		if pattern {
			ps = s.rdb.PSubscribe(r.Context(), names...)
		} else {
			ps = s.rdb.Subscribe(r.Context(), names...)
		}
		defer ps.Close()
		flush, ok := startEvents(w)
		if !ok {
			return
		}
		ch := ps.ChannelWithSubscriptions()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-s.closeCtx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				fmt.Fprintf(w, "data: %s\n\n", eventLine(m))
				flush()
			}
		}
	}
}

func eventLine(m any) string {
	switch x := m.(type) {
	case *redis.Subscription:
		return fmt.Sprintf("%s,%s,%d", x.Kind, x.Channel, x.Count)
	case *redis.Message:
		if x.Pattern != "" {
			return fmt.Sprintf("pmessage,%s,%s,%s", x.Pattern, x.Channel, oneLine(x.Payload))
		}
		return fmt.Sprintf("message,%s,%s", x.Channel, oneLine(x.Payload))
	}
	return fmt.Sprint(m)
}

// oneLine keeps a payload inside one SSE data line.
func oneLine(s string) string {
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
}

// handleMonitor streams MONITOR output as server-sent events. MONITOR takes
// over its connection, so it runs on a connection of its own rather than one
// of go-redis's pool.
func (s *Server) handleMonitor(w http.ResponseWriter, r *http.Request) {
	conn, rd, err := s.monitorConn(r.Context())
	if err != nil {
		s.backendFailed(w, err)
		return
	}
	defer conn.Close()
	stop := context.AfterFunc(r.Context(), func() { conn.Close() })
	defer stop()
	stopOnClose := context.AfterFunc(s.closeCtx, func() { conn.Close() })
	defer stopOnClose()
	flush, ok := startEvents(w)
	if !ok {
		return
	}
	fmt.Fprint(w, "data: OK\n\n")
	flush()
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return
		}
		fmt.Fprintf(w, "data: %s\n\n", oneLine(strings.TrimPrefix(strings.TrimRight(line, "\r\n"), "+")))
		flush()
	}
}

// monitorConn dials Redis, authenticates and sends MONITOR.
func (s *Server) monitorConn(ctx context.Context) (net.Conn, *bufio.Reader, error) {
	o := s.rdb.Options()
	d := &net.Dialer{Timeout: o.DialTimeout}
	var conn net.Conn
	var err error
	if o.TLSConfig != nil {
		conn, err = (&tls.Dialer{NetDialer: d, Config: o.TLSConfig}).DialContext(ctx, o.Network, o.Addr)
	} else {
		conn, err = d.DialContext(ctx, o.Network, o.Addr)
	}
	if err != nil {
		return nil, nil, err
	}
	var req []string
	if o.Password != "" {
		req = append(req, resp("AUTH", o.Username, o.Password))
	}
	if o.DB != 0 {
		req = append(req, resp("SELECT", strconv.Itoa(o.DB)))
	}
	req = append(req, resp("MONITOR"))
	rd := bufio.NewReader(conn)
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, strings.Join(req, "")); err != nil {
		conn.Close()
		return nil, nil, err
	}
	for range req {
		line, err := rd.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "+") {
			conn.Close()
			return nil, nil, fmt.Errorf("monitor setup: %q %v", strings.TrimSpace(line), err)
		}
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, rd, nil
}

// resp encodes a command in RESP, skipping empty arguments (AUTH without a
// user name).
func resp(args ...string) string {
	var parts []string
	for _, a := range args {
		if a != "" {
			parts = append(parts, fmt.Sprintf("$%d\r\n%s\r\n", len(a), a))
		}
	}
	return fmt.Sprintf("*%d\r\n", len(parts)) + strings.Join(parts, "")
}

func startEvents(w http.ResponseWriter) (func(), bool) {
	f, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "ERR streaming unsupported")
		return nil, false
	}
	// A stream lasts as long as its client listens: lift the server's
	// read and write timeouts for it.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f.Flush()
	return f.Flush, true
}

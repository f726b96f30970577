package restserver

import (
	"fmt"
	"net/http"
	"strings"

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

// handleMonitor streams MONITOR output as server-sent events.
func (s *Server) handleMonitor(w http.ResponseWriter, r *http.Request) {
	lines := make(chan string, 64)
	mon := s.rdb.Monitor(r.Context(), lines)
	mon.Start()
	defer mon.Stop()
	flush, ok := startEvents(w)
	if !ok {
		return
	}
	fmt.Fprint(w, "data: OK\n\n")
	flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.closeCtx.Done():
			return
		case line := <-lines:
			fmt.Fprintf(w, "data: %s\n\n", oneLine(line))
			flush()
		}
	}
}

func startEvents(w http.ResponseWriter) (func(), bool) {
	f, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "ERR streaming unsupported")
		return nil, false
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f.Flush()
	return f.Flush, true
}

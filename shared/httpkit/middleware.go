package httpkit

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ai-rails/state-service/shared/observe"
)

// Middleware wraps a handler.
type Middleware func(http.Handler) http.Handler

// Chain applies the middleware to h, the first outermost.
func Chain(h http.Handler, mws ...Middleware) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// RequestIDHeader carries the request id, echoed or minted.
const RequestIDHeader = "X-Request-Id"

// APIKeyHeader carries the API key.
const APIKeyHeader = "x-api-key"

// RequestID sets X-Request-Id on every answer: the incoming one when it is 1
// to 128 printable ASCII characters, else a new UUID. The request's logger
// carries it.
func RequestID(base *slog.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get(RequestIDHeader)
			if !printable(id, 128) {
				id = uuid.NewString()
			}
			w.Header().Set(RequestIDHeader, id)
			ctx := observe.WithLoggerAttrs(r.Context(), base, "request_id", id)
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

func printable(s string, maxLen int) bool {
	if len(s) == 0 || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// NoStore marks every GET and HEAD answer Cache-Control: no-store.
func NoStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			w.Header().Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// Recorder wraps a ResponseWriter and remembers the status and size of the
// answer, for middleware that reports on it.
type Recorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

// WriteHeader records the first status.
func (s *Recorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write records the size, and 200 if no status was written.
func (s *Recorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += n
	return n, err
}

// Status returns the answer's status: 200 if the handler wrote nothing.
func (s *Recorder) Status() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

// Unwrap gives http.ResponseController the underlying writer.
func (s *Recorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// AccessLog logs one line per request: method, route, path, status, size
// and duration. It never logs headers or bodies, so keys and tokens stay out.
// A route whose path holds a {token} logs its pattern as the path: the
// token is a credential.
func AccessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &Recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if !observe.Enabled(r.Context(), slog.LevelInfo) {
			return // without boxing the attributes of a line nobody reads
		}
		path := r.URL.Path
		if _, p, ok := strings.Cut(r.Pattern, " "); ok && strings.Contains(p, "{token}") {
			path = p
		}
		observe.Logger(r.Context()).Info("request",
			"method", r.Method, "route", r.Pattern, "path", path,
			"status", rec.Status(), "bytes", rec.bytes,
			"duration_ms", float64(time.Since(start).Microseconds())/1000)
	})
}

// Recover answers a panic with a 500 problem and logs it.
func Recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				WriteError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

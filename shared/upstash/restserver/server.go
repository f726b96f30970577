// Package restserver serves the Upstash Redis REST protocol in front of any
// Redis, through go-redis. The local stack and the tests use it the way
// Upstash's own local proxy (SRH) is used, and it closes SRH's gaps: it takes
// path-form commands and the _token query, sends the read-your-writes token,
// takes any Content-Type, answers a missing token with 401, leaves "OK"
// unencoded in base64 mode, and streams pub/sub and MONITOR as server-sent
// events.
package restserver

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// DefaultMaxBodyBytes is Upstash's request size limit on the free and
// pay-as-you-go plans.
const DefaultMaxBodyBytes = 10 << 20

// Options configures a Server.
type Options struct {
	// RedisURL is the Redis to serve, as go-redis parses it
	// ("redis://127.0.0.1:6379/0"). Required.
	RedisURL string
	// Token is the REST token clients must present. Required.
	Token string
	// MaxBodyBytes limits a request body. Default 10 MB.
	MaxBodyBytes int64
	// Logger receives backend failures. Default: slog.Default().
	Logger *slog.Logger
	// Gate, if set, runs every unit of work the server sends to Redis. The
	// embedded store uses it to keep time and journal writes.
	Gate Gate
}

// Kind is how a unit's commands reach Redis.
type Kind uint8

// The kinds of unit.
const (
	Single    Kind = iota // one command
	Pipelined             // a pipeline: each command on its own
	MultiExec             // a transaction: all or none
)

// Unit is one request's work: a command, a pipeline or a transaction.
type Unit struct {
	Kind Kind
	Cmds [][]string
}

// Gate sees each unit of work before and after it reaches Redis. Run calls
// exec exactly once, unless it refuses the unit with an error first; exec
// returns an error only when Redis did not answer (its error replies are
// answers). The unit's result is the server's to read once Run returns.
type Gate interface {
	Run(ctx context.Context, u Unit, exec func(context.Context) error) error
}

// Server is an http.Handler that speaks the Upstash REST protocol. The caller
// should call Close when done with it.
type Server struct {
	gate     Gate
	rdb      *redis.Client
	token    []byte
	maxBody  int64
	log      *slog.Logger
	syncSeq  atomic.Uint64
	mux      *http.ServeMux
	closeCtx context.Context
	closeFn  context.CancelFunc
}

// New returns a Server for the options. It does not contact Redis.
func New(opts Options) (*Server, error) {
	if opts.Token == "" {
		return nil, errors.New("restserver: token is required")
	}
	ropts, err := redis.ParseURL(opts.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("restserver: redis URL: %w", err)
	}
	// RESP2 answers are what Upstash returns (HGETALL as a flat array), and a
	// retried command could apply twice, so go-redis must not retry.
	ropts.Protocol = 2
	ropts.MaxRetries = -1
	ropts.DisableIdentity = true
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{
		gate:    opts.Gate,
		rdb:     redis.NewClient(ropts),
		token:   []byte(opts.Token),
		maxBody: opts.MaxBodyBytes,
		log:     opts.Logger,
	}
	s.closeCtx, s.closeFn = context.WithCancel(context.Background())
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/pipeline", s.handleBatch(false))
	s.mux.HandleFunc("/multi-exec", s.handleBatch(true))
	s.mux.HandleFunc("/subscribe/", s.handleSubscribe(false))
	s.mux.HandleFunc("/psubscribe/", s.handleSubscribe(true))
	s.mux.HandleFunc("/monitor", s.handleMonitor)
	s.mux.HandleFunc("/", s.handleCommand)
	return s, nil
}

// Close ends open event streams and closes the Redis connections.
func (s *Server) Close() error {
	s.closeFn()
	return s.rdb.Close()
}

// Redis returns the server's go-redis client.
func (s *Server) Redis() *redis.Client { return s.rdb }

// ServeHTTP authenticates the request, then serves it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Upstash-Sync-Token", strconv.FormatUint(s.syncSeq.Add(1), 10))
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut:
	default:
		writeError(w, http.StatusMethodNotAllowed, "ERR method not allowed")
		return
	}
	if !s.authorized(r) {
		writeError(w, http.StatusUnauthorized, "WRONGPASS invalid or missing auth token")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
	s.mux.ServeHTTP(w, r)
}

func (s *Server) authorized(r *http.Request) bool {
	got := ""
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			got = strings.TrimSpace(tok)
		}
	} else {
		got = r.URL.Query().Get("_token")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), s.token) == 1
}

// handleCommand serves POST / with a JSON array, and the path form.
func (s *Server) handleCommand(w http.ResponseWriter, r *http.Request) {
	var cmd []string
	var err error
	if r.URL.Path == "/" {
		cmd, err = readJSONCommand(r)
	} else {
		cmd, err = pathCommand(r)
	}
	if err != nil {
		writeRequestError(w, err)
		return
	}
	if msg := refusal(cmd); msg != "" {
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	var v any
	var cmdErr error
	if err := s.run(r.Context(), Unit{Kind: Single, Cmds: [][]string{cmd}}, func(ctx context.Context) error {
		v, cmdErr = s.rdb.Do(ctx, toArgs(cmd)...).Result()
		if !answered(cmdErr) {
			return cmdErr
		}
		return nil
	}); err != nil {
		cmdErr = err
	}
	item, status := s.itemFor(v, cmdErr)
	if status != http.StatusOK {
		writeJSON(w, status, item, false)
		return
	}
	writeJSON(w, http.StatusOK, item, base64Wanted(r))
}

// handleBatch serves /pipeline and, atomically, /multi-exec.
func (s *Server) handleBatch(atomic bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			writeError(w, http.StatusMethodNotAllowed, "ERR method not allowed")
			return
		}
		cmds, err := readJSONBatch(r)
		if err != nil {
			writeRequestError(w, err)
			return
		}
		for _, cmd := range cmds {
			if msg := refusal(cmd); msg != "" {
				writeError(w, http.StatusBadRequest, msg)
				return
			}
		}
		var items []any
		u := Unit{Kind: Pipelined, Cmds: cmds}
		if atomic {
			u.Kind = MultiExec
		}
		var rerr redis.Error
		var batchErr error
		if err := s.run(r.Context(), u, func(ctx context.Context) error {
			items, batchErr = s.batch(ctx, u)
			if batchErr != nil && !errors.As(batchErr, &rerr) {
				return batchErr
			}
			return nil
		}); err != nil {
			batchErr = err
		}
		err = batchErr
		switch {
		case errors.As(err, &rerr):
			writeError(w, http.StatusBadRequest, rerr.Error())
		case err != nil:
			s.backendFailed(w, err)
		default:
			writeJSON(w, http.StatusOK, items, base64Wanted(r))
		}
	}
}

// run passes a unit through the gate, if there is one.
func (s *Server) run(ctx context.Context, u Unit, exec func(context.Context) error) error {
	if s.gate == nil {
		return exec(ctx)
	}
	return s.gate.Run(ctx, u, exec)
}

// Apply runs a unit without the gate, as the embedded store's journal replay
// does. It fails only when Redis does not answer.
func (s *Server) Apply(ctx context.Context, u Unit) error {
	if u.Kind == Single {
		if len(u.Cmds) != 1 {
			return fmt.Errorf("restserver: a single unit has %d commands", len(u.Cmds))
		}
		if err := s.rdb.Do(ctx, toArgs(u.Cmds[0])...).Err(); !answered(err) {
			return err
		}
		return nil
	}
	if _, err := s.batch(ctx, u); err != nil && !isReply(err) {
		return err
	}
	return nil
}

// batch runs a pipeline or a transaction.
func (s *Server) batch(ctx context.Context, u Unit) ([]any, error) {
	if u.Kind == MultiExec {
		return s.multiExec(ctx, u.Cmds)
	}
	return s.pipeline(ctx, u.Cmds)
}

func (s *Server) pipeline(ctx context.Context, cmds [][]string) ([]any, error) {
	pipe := s.rdb.Pipeline()
	out := make([]*redis.Cmd, len(cmds))
	for i, cmd := range cmds {
		out[i] = pipe.Do(ctx, toArgs(cmd)...)
	}
	if _, err := pipe.Exec(ctx); !answered(err) {
		return nil, err
	}
	items := make([]any, len(out))
	for i, c := range out {
		items[i], _ = s.itemFor(c.Val(), c.Err())
	}
	return items, nil
}

// multiExec runs MULTI and the commands on one connection, then EXEC if
// every command was queued, or DISCARD and the queueing error if one was not.
// Deciding here, rather than leaving it to EXECABORT, discards the whole
// transaction on any backend (miniredis queues unknown commands and runs the
// rest).
func (s *Server) multiExec(ctx context.Context, cmds [][]string) ([]any, error) {
	conn := s.rdb.Conn()
	defer conn.Close()
	queued := make([]*redis.Cmd, len(cmds))
	_, err := conn.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Do(ctx, "MULTI")
		for i, cmd := range cmds {
			queued[i] = p.Do(ctx, toArgs(cmd)...)
		}
		return nil
	})
	if !answered(err) {
		return nil, err
	}
	for _, q := range queued {
		if qerr := q.Err(); qerr != nil {
			if derr := conn.Do(ctx, "DISCARD").Err(); derr != nil {
				return nil, derr
			}
			return nil, qerr
		}
	}
	res, err := conn.Do(ctx, "EXEC").Result()
	if err != nil {
		return nil, err
	}
	arr, ok := res.([]any)
	if !ok {
		return nil, fmt.Errorf("EXEC answered %T", res)
	}
	items := make([]any, len(arr))
	for i, v := range arr {
		if e, ok := v.(redis.Error); ok {
			items[i], _ = s.itemFor(nil, e)
		} else {
			items[i], _ = s.itemFor(v, nil)
		}
	}
	return items, nil
}

// itemFor turns a go-redis outcome into a {"result"} or {"error"} item, with
// the HTTP status a single command would answer.
func (s *Server) itemFor(v any, err error) (map[string]any, int) {
	switch {
	case err == nil:
		return map[string]any{"result": v}, http.StatusOK
	case errors.Is(err, redis.Nil):
		return map[string]any{"result": nil}, http.StatusOK
	case isReply(err):
		return map[string]any{"error": err.Error()}, http.StatusBadRequest
	}
	s.log.Error("restserver: redis failed", "error", err)
	return map[string]any{"error": "ERR backend unavailable"}, http.StatusServiceUnavailable
}

func (s *Server) backendFailed(w http.ResponseWriter, err error) {
	s.log.Error("restserver: redis failed", "error", err)
	writeError(w, http.StatusServiceUnavailable, "ERR backend unavailable")
}

// isReply reports whether err is an error reply from Redis, as opposed to a
// failure to reach it.
func isReply(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr) && !errors.Is(err, redis.Nil)
}

// answered reports whether err, from a pipeline, still means that Redis
// answered every command: no error, or a command's own error or nil reply.
func answered(err error) bool {
	return err == nil || errors.Is(err, redis.Nil) || isReply(err)
}

func toArgs(cmd []string) []any {
	out := make([]any, len(cmd))
	for i, a := range cmd {
		out[i] = a
	}
	return out
}

// writeJSON writes an answer, base64-encoding its strings when asked.
func writeJSON(w http.ResponseWriter, status int, v any, b64 bool) {
	if b64 {
		v = encodeBase64(v)
	}
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"error":"ERR cannot encode answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": msg}, false)
}

func writeRequestError(w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeError(w, http.StatusBadRequest, "ERR max request size exceeded")
		return
	}
	writeError(w, http.StatusBadRequest, "ERR "+err.Error())
}

func base64Wanted(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upstash-Encoding"), "base64")
}

// readBody reads the whole request body within the size limit.
func readBody(r *http.Request) ([]byte, error) {
	return io.ReadAll(r.Body)
}

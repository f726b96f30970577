package upstash

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/ai-rails/state-service/shared/restclient"
)

// Client talks to one Upstash Redis REST endpoint. It is safe for concurrent
// use; build one per process, at start-up, and share it.
type Client struct {
	opts      Options
	rc        *restclient.Client
	base      string // endpoint URL without a trailing slash
	syncToken atomic.Pointer[string]
	stats     stats
	scripts   sync.Map // the hashes of the scripts this client has sent
}

// New returns a Client for the options, after validating them. See Options
// for the defaults.
func New(opts Options) (*Client, error) {
	rc, err := restclient.New("upstash", opts.Options)
	if err != nil {
		return nil, err
	}
	opts.Options = rc.Options()
	return &Client{opts: opts, rc: rc, base: rc.Base()}, nil
}

// String describes the client without its token.
func (c *Client) String() string {
	return fmt.Sprintf("upstash.Client{URL: %q, Token: <redacted>}", c.base)
}

// CircuitState reports the circuit breaker's state: CircuitClosed,
// CircuitOpen or CircuitHalfOpen.
func (c *Client) CircuitState() string { return c.rc.CircuitState() }

// GoString is String, so that %#v does not print the token either.
func (c *Client) GoString() string { return c.String() }

// URL returns the endpoint URL.
func (c *Client) URL() string { return c.base }

// Do sends one command, such as Do(ctx, "SET", "k", "v", "EX", 100), and
// returns its decoded result: nil, int64, string (which may hold any bytes)
// or []any of those. A nil reply returns ErrNil. An error answered by Redis is
// an *Error; a failure to reach the store wraps ErrUnavailable.
//
// Arguments may be strings, byte slices, integers, floats or booleans. Only
// the last argument may be bytes that are not valid UTF-8; it is then sent as
// the raw body of a path-form request.
//
// Do retries only read-only commands and requests that were never sent.
func (c *Client) Do(ctx context.Context, args ...any) (any, error) {
	return c.do1(ctx, isReadOnly(args), args)
}

func (c *Client) do1(ctx context.Context, retrySafe bool, args []any) (any, error) {
	cmd, err := commandArgs(args)
	if err != nil {
		return nil, err
	}
	if bin := binaryArg(cmd); bin >= 0 {
		if bin != len(cmd)-1 {
			return nil, ErrBinaryArg
		}
		r := &request{kind: KindCommand, retrySafe: retrySafe, names: cmd[:1], commands: 1}
		r.url, r.body, r.contentType = c.pathForm(cmd)
		v, err := c.send(ctx, r)
		if err != nil {
			return nil, err
		}
		return resultOf(v)
	}
	if extra, done := c.piggyback(ctx); extra != nil {
		// The extra and the command go as a pipeline of two, the extra first
		// so that the command sees what it wrote.
		res, err := c.batch(ctx, KindCommand, "/pipeline", [][]any{extra, args}, retrySafe)
		done(err == nil)
		if err != nil {
			return nil, err
		}
		return res[1].Value, res[1].Err
	}
	r := &request{kind: KindCommand, retrySafe: retrySafe, names: cmd[:1], commands: 1, url: c.base, contentType: "application/json"}
	r.body = marshalArgs(cmd)
	v, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	return resultOf(v)
}

// piggyback asks Options.Piggyback for a command to carry along.
func (c *Client) piggyback(ctx context.Context) ([]any, func(bool)) {
	if c.opts.Piggyback == nil {
		return nil, nil
	}
	cmd, done := c.opts.Piggyback(ctx)
	if cmd == nil {
		return nil, nil
	}
	if done == nil {
		done = func(bool) {}
	}
	return cmd, done
}

// Result is the outcome of one command in a pipeline or transaction: a
// decoded Value, or an Err (ErrNil for a nil reply, *Error for a Redis error).
type Result struct {
	Value any
	Err   error
}

// Pipeline sends commands in order, in batches of at most 1000 per request.
// A pipeline is not atomic: each command's outcome is in its Result. The error
// is for the request itself; after a failed batch, the earlier batches have
// been applied and their results are returned.
//
// Pipeline retries only when every command is read-only, or the request was
// never sent.
func (c *Client) Pipeline(ctx context.Context, cmds ...[]any) ([]Result, error) {
	out := make([]Result, 0, len(cmds))
	for start := 0; start < len(cmds); start += MaxPipelineCommands {
		batch := cmds[start:min(start+MaxPipelineCommands, len(cmds))]
		retrySafe := allReadOnly(batch)
		if start == 0 && len(batch) < MaxPipelineCommands {
			if extra, done := c.piggyback(ctx); extra != nil {
				res, err := c.batch(ctx, KindPipeline, "/pipeline", append([][]any{extra}, batch...), retrySafe)
				done(err == nil)
				if err != nil {
					return nil, err
				}
				out = append(out, res[1:]...)
				continue
			}
		}
		res, err := c.batch(ctx, KindPipeline, "/pipeline", batch, retrySafe)
		out = append(out, res...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func allReadOnly(cmds [][]any) bool {
	for _, c := range cmds {
		if !isReadOnly(c) {
			return false
		}
	}
	return true
}

// MultiExec runs the commands as one atomic transaction. A command that fails
// at run time has its error in its Result while the others still apply; a
// command that cannot be queued (a syntax error, an unknown command) discards
// the whole transaction, which is then the returned *Error.
func (c *Client) MultiExec(ctx context.Context, cmds ...[]any) ([]Result, error) {
	return c.batch(ctx, KindMultiExec, "/multi-exec", cmds, allReadOnly(cmds))
}

// batch sends commands to /pipeline or /multi-exec. retrySafe is decided by
// the caller, since a piggybacked command does not make a call unsafe.
func (c *Client) batch(ctx context.Context, kind CallKind, path string, cmds [][]any, retrySafe bool) ([]Result, error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	strs := make([][]string, len(cmds))
	r := &request{kind: kind, url: c.base + path, contentType: "application/json", retrySafe: retrySafe, commands: len(cmds)}
	for i, args := range cmds {
		cmd, err := commandArgs(args)
		if err != nil {
			return nil, fmt.Errorf("%w (command %d)", err, i)
		}
		if binaryArg(cmd) >= 0 {
			return nil, ErrBinaryArg
		}
		strs[i] = cmd
	}
	if len(c.opts.Hooks) > 0 {
		r.names = make([]string, len(strs))
		for i, cmd := range strs {
			r.names[i] = cmd[0]
		}
	}
	r.body = marshalArgs(strs)
	v, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	items, ok := v.([]any)
	if !ok || len(items) != len(cmds) {
		return nil, malformed(fmt.Sprintf("%s answer is not an array of %d results", kind, len(cmds)))
	}
	out := make([]Result, len(items))
	for i, item := range items {
		out[i].Value, out[i].Err = resultOf(item)
	}
	return out, nil
}

// CallKind names the kind of request a Call made.
type CallKind string

// The kinds of call.
const (
	KindCommand   CallKind = "command"
	KindPipeline  CallKind = "pipeline"
	KindMultiExec CallKind = "multi-exec"
)

// A Call describes one finished call, for hooks.
type Call struct {
	Kind CallKind
	// Names holds the command names, upper-cased as sent ("EVALSHA", "GET").
	Names []string
	// Commands is how many commands the call carried.
	Commands int
	// RoundTrips is how many HTTP requests the call sent, retries included.
	RoundTrips int
	Duration   time.Duration
	Err        error
}

// Hook observes calls: use it to count commands and time calls for metrics.
type Hook func(ctx context.Context, call Call)

// Stats are the client's running totals since New.
type Stats struct {
	Calls      uint64 // calls made: Do, each pipeline batch, MultiExec
	Commands   uint64 // commands carried by those calls
	RoundTrips uint64 // HTTP requests sent, retries included
	Failures   uint64 // calls that ended in ErrUnavailable
}

type stats struct {
	calls, commands, roundTrips, failures atomic.Uint64
}

// Stats returns the running totals.
func (c *Client) Stats() Stats {
	return Stats{
		Calls:      c.stats.calls.Load(),
		Commands:   c.stats.commands.Load(),
		RoundTrips: c.stats.roundTrips.Load(),
		Failures:   c.stats.failures.Load(),
	}
}

// request is one call on the wire; every call goes through send.
type request struct {
	kind        CallKind
	url         string
	body        []byte
	contentType string
	names       []string
	commands    int
	retrySafe   bool
}

// send makes a call: restclient applies the deadline, the retry policy and
// the circuit breaker around attempt; send then reports to the hooks. It
// returns the parsed JSON answer.
func (c *Client) send(ctx context.Context, r *request) (any, error) {
	start := time.Now()
	v, trips, err := c.rc.Call(ctx, func(ctx context.Context) (any, error) { return c.attempt(ctx, r) })
	c.stats.calls.Add(1)
	c.stats.commands.Add(uint64(r.commands))
	c.stats.roundTrips.Add(uint64(trips))
	if errors.Is(err, ErrUnavailable) {
		c.stats.failures.Add(1)
	}
	if len(c.opts.Hooks) > 0 {
		call := Call{Kind: r.kind, Names: r.names, Commands: r.commands, RoundTrips: trips, Duration: time.Since(start), Err: err}
		for _, h := range c.opts.Hooks {
			h(ctx, call)
		}
	}
	return v, err
}

// attempt sends one HTTP request and classifies its answer: Upstash's
// {"result"} and {"error"} envelopes, throttling and the transient errors
// of a Redis that cannot serve for a moment.
func (c *Client) attempt(ctx context.Context, r *request) (any, error) {
	resp, err := c.rc.Post(ctx, r.url, r.contentType, r.body, func(h http.Header) {
		h.Set("Upstash-Encoding", "base64")
		if tok := c.syncToken.Load(); tok != nil && !c.opts.DisableReadYourWrites {
			h.Set("Upstash-Sync-Token", *tok)
		}
	}, r.retrySafe)
	if err != nil {
		return nil, err
	}
	if tok := resp.Header.Get("Upstash-Sync-Token"); tok != "" {
		c.syncToken.Store(&tok)
	}
	v, perr := parseJSON(resp.Body)
	if resp.Status != http.StatusOK {
		msg := errorMessage(v)
		if perr != nil || msg == "" {
			msg = "ERR unexpected answer: HTTP " + strconv.Itoa(resp.Status)
		}
		if isThrottleMessage(msg) {
			return nil, c.rc.Throttled(msg, r.retrySafe)
		}
		if isTransientMessage(msg) {
			return nil, c.rc.Unavailable(msg, nil, r.retrySafe, false)
		}
		return nil, newError(msg, resp.Status)
	}
	if perr != nil {
		return nil, c.rc.Unavailable("malformed answer", perr, r.retrySafe, true)
	}
	return v, nil
}

// pathForm builds a path-form request whose last argument is the raw body,
// the one way to send bytes that are not UTF-8.
func (c *Client) pathForm(cmd []string) (string, []byte, string) {
	var b strings.Builder
	b.WriteString(c.base)
	for _, a := range cmd[:len(cmd)-1] {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(a))
	}
	return b.String(), []byte(cmd[len(cmd)-1]), "application/octet-stream"
}

// commandArgs turns Go values into the command's string arguments, with the
// command name upper-cased.
func commandArgs(args []any) ([]string, error) {
	if len(args) == 0 {
		return nil, errors.New("upstash: empty command")
	}
	out := make([]string, len(args))
	for i, a := range args {
		s, err := argString(a)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	out[0] = strings.ToUpper(out[0])
	return out, nil
}

func argString(a any) (string, error) {
	switch v := a.(type) {
	case string:
		return v, nil
	case []byte:
		return string(v), nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case int32:
		return strconv.FormatInt(int64(v), 10), nil
	case uint:
		return strconv.FormatUint(uint64(v), 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	case uint32:
		return strconv.FormatUint(uint64(v), 10), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32), nil
	case bool:
		if v {
			return "1", nil
		}
		return "0", nil
	}
	return "", fmt.Errorf("upstash: unsupported argument type %T", a)
}

// binaryArg returns the index of the first argument that is not valid UTF-8,
// or -1.
func binaryArg(cmd []string) int {
	for i, a := range cmd {
		if !utf8.ValidString(a) {
			return i
		}
	}
	return -1
}

// marshalArgs encodes a command or a batch of them as JSON, leaving HTML
// characters as they are.
func marshalArgs[T []string | [][]string](v T) []byte {
	switch v := any(v).(type) {
	case []string:
		return append(appendArgs(make([]byte, 0, argsSize(v)+2), v), '\n')
	case [][]string:
		n := 2
		for _, c := range v {
			n += argsSize(c) + 3
		}
		dst := append(make([]byte, 0, n), '[')
		for i, c := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendArgs(dst, c)
		}
		return append(dst, ']', '\n')
	}
	panic("unreachable")
}

// argsSize is about what appendArgs writes for args with little escaping.
func argsSize(args []string) int {
	n := 2
	for _, s := range args {
		n += len(s) + 3
	}
	return n
}

// readOnly lists the commands that change nothing, so that a retry after an
// ambiguous failure cannot apply anything twice.
var readOnly = map[string]bool{
	"GET": true, "MGET": true, "STRLEN": true, "GETRANGE": true, "EXISTS": true,
	"TTL": true, "PTTL": true, "EXPIRETIME": true, "PEXPIRETIME": true, "TYPE": true,
	"HGET": true, "HGETALL": true, "HMGET": true, "HLEN": true, "HKEYS": true, "HVALS": true, "HEXISTS": true,
	"LRANGE": true, "LLEN": true, "LINDEX": true,
	"SMEMBERS": true, "SISMEMBER": true, "SCARD": true,
	"ZRANGE": true, "ZREVRANGE": true, "ZRANGEBYSCORE": true, "ZREVRANGEBYSCORE": true,
	"ZSCORE": true, "ZMSCORE": true, "ZCARD": true, "ZCOUNT": true, "ZRANK": true, "ZREVRANK": true,
	"XRANGE": true, "XREVRANGE": true, "XLEN": true,
	"SCAN": true, "SSCAN": true, "HSCAN": true, "ZSCAN": true,
	"DBSIZE": true, "PING": true, "ECHO": true, "INFO": true, "TIME": true, "DUMP": true,
	"EVAL_RO": true, "EVALSHA_RO": true,
}

func isReadOnly(args []any) bool {
	if len(args) == 0 {
		return false
	}
	name, ok := args[0].(string)
	return ok && readOnly[strings.ToUpper(name)]
}

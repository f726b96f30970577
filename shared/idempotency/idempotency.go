// Package idempotency makes every write route safe to retry. A request with
// an Idempotency-Key header has its first outcome recorded, for 24 hours, by
// the write's own script: the check, the write and the record are one
// atomic step and one round trip. A retry with the same key and the same
// request (method, path, query, preconditions and body) gets that outcome
// again, marked Idempotent-Replayed: true, whether the first answer reached
// the client or not; the same key with another request gets 422.
//
// The middleware reads the key and fingerprints the request; a store's
// write script, made with Wrap, finds them in the request's context.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/httpkit"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/upstash"
)

// Header is the request header that carries the key.
const Header = "Idempotency-Key"

// ReplayedHeader marks an answer that is a recorded first outcome.
const ReplayedHeader = "Idempotent-Replayed"

// scope is the record keys' scope: one for the whole API, so that a key
// reused on another route is a mismatch, not a second request.
const scope = "api"

//go:embed guard.lua
var guardLua string

// Request is one idempotent request: where its outcome is recorded, and
// its fingerprint.
type Request struct {
	key, fp string
	// envelope is the fingerprint of the request without its body.
	envelope string
	used     bool
	// Replayed is set when the answer is the recorded outcome.
	Replayed bool
}

type ctxKey struct{}

// From returns the request's idempotency, or nil.
func From(ctx context.Context) *Request {
	r, _ := ctx.Value(ctxKey{}).(*Request)
	return r
}

// Replayed reports whether the request's write was a replay, so that side
// effects (webhooks, metrics) happen once.
func Replayed(ctx context.Context) bool {
	r := From(ctx)
	return r != nil && r.Replayed
}

// Script is a write script that honours the request's Idempotency-Key.
type Script struct {
	plain, guarded *upstash.Script
}

// Wrap returns s guarded. With a key, the guarded script is safe for the
// client to retry, whatever s is: a retry replays.
func Wrap(s *upstash.Script) *Script {
	before, after, _ := strings.Cut(guardLua, "--SCRIPT--")
	return &Script{plain: s, guarded: s.Within(before, after).RetrySafe()}
}

// Run runs the script. When ctx carries an idempotent request whose write
// has not run yet, it runs guarded, and answers the first outcome or a 422.
// The reply is the script's own. A script may answer {"retry", ...} when it
// wrote nothing and needs other arguments: that reply is not recorded, and
// the next Run is guarded again.
func (s *Script) Run(ctx context.Context, c *upstash.Client, keys []string, args ...any) (any, error) {
	req := From(ctx)
	if req == nil || req.used {
		return s.plain.Run(ctx, c, keys, args...)
	}
	req.used = true
	keys = append(keys[:len(keys):len(keys)], req.key)
	args = append(args[:len(args):len(args)], req.fp, recordTTL)
	v, err := s.guarded.Run(ctx, c, keys, args...)
	if err != nil {
		return nil, err
	}
	arr, ok := v.([]any)
	if !ok || len(arr) == 0 {
		return nil, fmt.Errorf("idempotency: unexpected reply %v", v)
	}
	switch arr[0] {
	case "mismatch":
		return nil, apperr.New(apperr.Unprocessable, "this Idempotency-Key was used with a different request in the last 24 hours")
	case "replay":
		req.Replayed = true
	}
	if len(arr) < 2 {
		return nil, nil
	}
	if reply, ok := arr[1].([]any); ok && len(reply) > 0 && reply[0] == "retry" {
		// Nothing was written or recorded: the caller's next run is guarded.
		req.used = false
	}
	return arr[1], nil
}

var recordTTL = keys.IdempotencyTTL.Milliseconds()

// Middleware reads the Idempotency-Key of a write (any method but GET,
// HEAD and OPTIONS), refuses a malformed one with 400, and puts the request
// in the context for the write's script.
func Middleware(schema keys.Schema) httpkit.Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			vals := r.Header.Values(Header)
			if vals == nil || r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions {
				next.ServeHTTP(w, r)
				return
			}
			k, err := keys.ParseIdempotencyKey(vals[0])
			if err != nil || len(vals) > 1 {
				httpkit.WriteError(w, r, apperr.Invalid(apperr.Field(Header, "must be one header of %s", keys.IdempotencyKeyRule)))
				return
			}
			// The body is read here for the fingerprint, up to the API's
			// limit, and given back whole: the handler enforces the limit.
			head, err := io.ReadAll(io.LimitReader(r.Body, httpkit.MaxBodyBytes+1))
			if err != nil {
				httpkit.WriteError(w, r, apperr.Wrap(apperr.Validation, err, "the request body could not be read"))
				return
			}
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
			req := &Request{key: schema.Idempotency(scope, k)}
			req.envelope, req.fp = fingerprint(r, head)
			inner := r.WithContext(context.WithValue(r.Context(), ctxKey{}, req))
			next.ServeHTTP(&replayWriter{ResponseWriter: w, req: req}, inner)
			// The router names the route on the request it is given; the
			// access log and the metrics read it from this one.
			r.Pattern = inner.Pattern
		})
	}
}

// fingerprint hashes what makes two requests the same request: the
// method, path, query, content type, preconditions and lock token, and the
// body, as canonical JSON when it is JSON (so key order and spacing do not
// count), else as sent.
func fingerprint(r *http.Request, body []byte) (envelope, fp string) {
	h := sha256.New()
	for _, part := range []string{r.Method, r.URL.Path, r.URL.Query().Encode(),
		r.Header.Get("Content-Type"), r.Header.Get("If-Match"), r.Header.Get("If-None-Match"), r.Header.Get("Lock-Token")} {
		fmt.Fprintf(h, "%d:%s\n", len(part), part)
	}
	envelope = hex.EncodeToString(h.Sum(nil))
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) == nil && !dec.More() {
		if canon, err := json.Marshal(v); err == nil {
			body = canon
		}
	}
	return envelope, withBody(envelope, body)
}

func withBody(envelope string, body []byte) string {
	sum := sha256.Sum256(append([]byte(envelope+"\n"), body...))
	return hex.EncodeToString(sum[:])
}

// Describe sets the request's fingerprint from its parsed form, for a
// route whose requests are the same request when they parse the same (an
// approval with expires_in_seconds left out, or given as its default).
// Call it before the write runs.
func Describe(ctx context.Context, parsed any) {
	req := From(ctx)
	if req == nil || req.used {
		return
	}
	b, _ := json.Marshal(parsed)
	req.fp = withBody(req.envelope, b)
}

// replayWriter marks a replayed answer as it is written.
type replayWriter struct {
	http.ResponseWriter
	req   *Request
	wrote bool
}

func (w *replayWriter) WriteHeader(status int) {
	if !w.wrote && w.req.Replayed {
		w.Header().Set(ReplayedHeader, "true")
	}
	w.wrote = true
	w.ResponseWriter.WriteHeader(status)
}

func (w *replayWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *replayWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

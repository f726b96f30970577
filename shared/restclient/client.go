package restclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync/atomic"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
)

// Client sends the calls of one REST endpoint under its deadline, retry
// policy and circuit breaker. It is safe for concurrent use.
type Client struct {
	name     string
	opts     Options
	base     string
	auth     string
	breaker  circuitbreaker.CircuitBreaker[any]
	executor failsafe.Executor[any]
}

// New validates the options, fills in their defaults, and returns a Client.
// name starts its errors and log lines ("upstash", "upstash vector").
func New(name string, o Options) (*Client, error) {
	base, err := o.init(name)
	if err != nil {
		return nil, err
	}
	c := &Client{name: name, opts: o, base: base.String(), auth: "Bearer " + o.Token}
	c.breaker = newBreaker(name, &c.opts)
	c.executor = failsafe.With[any](newRetryPolicy(name, &c.opts), c.breaker)
	return c, nil
}

// Base returns the endpoint URL, without a trailing slash.
func (c *Client) Base() string { return c.base }

// Options returns the options with their defaults filled in.
func (c *Client) Options() Options { return c.opts }

// String describes the client without its token.
func (c *Client) String() string {
	return fmt.Sprintf("%s client{URL: %q, Token: <redacted>}", c.name, c.base)
}

// GoString is String, so that %#v does not print the token either.
func (c *Client) GoString() string { return c.String() }

// Call runs attempt under the deadline (Options.Timeout, or the context's
// earlier one), the retry policy and the circuit breaker, and returns its
// value, how many attempts it took, and the caller's error.
func (c *Client) Call(ctx context.Context, attempt func(ctx context.Context) (any, error)) (any, int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	var trips int
	v, err := c.executor.WithContext(ctx).Get(func() (any, error) {
		trips++
		return attempt(ctx)
	})
	if err != nil {
		err = c.finalError(ctx, err, trips)
	}
	return v, trips, err
}

// finalError turns what the policies returned into the caller's error.
func (c *Client) finalError(ctx context.Context, err error, trips int) error {
	var u *unavailableError
	switch {
	case errors.Is(err, circuitbreaker.ErrOpen):
		return &unavailableError{name: c.name, msg: "circuit open, failing fast", cause: ErrCircuitOpen, wait: c.breaker.RemainingDelay()}
	case errors.As(err, &u):
		return err
	case errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("%s: call canceled: %w", c.name, ctx.Err())
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		// The deadline ran out while waiting to retry.
		return &unavailableError{name: c.name, msg: fmt.Sprintf("timeout after %d attempts", trips), cause: ctx.Err(), trips: true}
	}
	return err
}

// Response is an answer that came back: any status but 5xx and 429.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Post sends one POST with the bearer token, and the headers that header
// adds, and reads the answer. A network failure, a 5xx or a 429 is an
// Unavailable error: retryable when retrySafe says the request may run
// twice, or when it was never sent.
func (c *Client) Post(ctx context.Context, url, contentType string, body []byte, header func(http.Header), retrySafe bool) (*Response, error) {
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteHeaders: func() { wrote.Store(true) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: build request: %w", c.name, err)
	}
	req.Header.Set("Authorization", c.auth)
	req.Header.Set("Content-Type", contentType)
	if header != nil {
		header(req.Header)
	}
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, "request failed", err, retrySafe || !wrote.Load())
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, c.transportError(ctx, "reading answer failed", err, retrySafe)
	}
	switch {
	case resp.StatusCode >= 500:
		return nil, &unavailableError{name: c.name, msg: "server error " + strconv.Itoa(resp.StatusCode) + errorSuffix(b), retryable: retrySafe, trips: true}
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, c.Throttled("throttled", retrySafe)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

func (c *Client) transportError(ctx context.Context, what string, err error, retryable bool) error {
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("%s: call canceled: %w", c.name, ctx.Err())
	case ctx.Err() != nil:
		return &unavailableError{name: c.name, msg: "timeout", cause: ctx.Err(), trips: true}
	}
	return &unavailableError{name: c.name, msg: what, cause: err, retryable: retryable, trips: true}
}

// errorSuffix quotes the error an answer's {"error": "..."} envelope
// carries, if it has one, for the message.
func errorSuffix(body []byte) string {
	var env struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &env) != nil || env.Error == "" {
		return ""
	}
	msg := env.Error
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return ": " + msg
}

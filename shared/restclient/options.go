// Package restclient is the HTTP transport that our clients of Upstash's
// REST APIs share (package upstash for Redis, package upstashvector for
// Vector): the endpoint and token checks, the token kept out of every
// string, log line and error, a deadline on every call, retries of what is
// safe to retry with jittered backoff, a circuit breaker, and the errors
// that tell a store outage from a bad request.
package restclient

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Default values for the zero fields of Options.
const (
	DefaultTimeout          = 2 * time.Second
	DefaultMaxRetries       = 3
	DefaultMinRetryBackoff  = 50 * time.Millisecond
	DefaultMaxRetryBackoff  = 500 * time.Millisecond
	DefaultBreakerFailures  = 5
	DefaultBreakerOpenDelay = 5 * time.Second
	DefaultMaxIdleConns     = 64
)

// Options configures the transport. The zero value of each field means its
// default.
type Options struct {
	// URL is the REST endpoint (UPSTASH_REDIS_REST_URL,
	// UPSTASH_VECTOR_REST_URL). It must be https; http is accepted only for
	// a loopback host (a local server). It may not carry credentials.
	URL string
	// Token is the REST token. Required. It is sent only in the
	// Authorization header and never printed.
	Token string

	// HTTPClient sends the requests. Default: a client of its own with a
	// keep-alive transport tuned by MaxIdleConnsPerHost. Build one client
	// per process and share it.
	HTTPClient *http.Client
	// MaxIdleConnsPerHost is the keep-alive pool size of the default
	// transport. Default 64.
	MaxIdleConnsPerHost int

	// Timeout bounds every call, retries included, when the caller's context
	// has no earlier deadline. Default 2 s.
	Timeout time.Duration
	// MaxRetries is how many times a failed call that is safe to retry is
	// retried. Default 3; -1 disables retries.
	MaxRetries int
	// MinRetryBackoff and MaxRetryBackoff bound the exponential backoff
	// between retries, which has ±50% jitter. Defaults 50 ms and 500 ms.
	MinRetryBackoff time.Duration
	MaxRetryBackoff time.Duration

	// BreakerFailures is how many consecutive failed requests open the
	// circuit. Default 5.
	BreakerFailures int
	// BreakerOpenDelay is how long the circuit stays open before one trial
	// request is let through (half-open). Default 5 s.
	BreakerOpenDelay time.Duration

	// Logger receives retries and circuit changes. Default: slog.Default().
	Logger *slog.Logger
}

// String describes the options without the token.
func (o Options) String() string {
	return fmt.Sprintf("Options{URL: %q, Token: %s}", o.URL, redacted(o.Token))
}

// GoString is String, so that %#v does not print the token either.
func (o Options) GoString() string { return o.String() }

// LogValue keeps the token out of slog output.
func (o Options) LogValue() slog.Value {
	return slog.GroupValue(slog.String("url", o.URL), slog.String("token", redacted(o.Token)))
}

func redacted(token string) string {
	if token == "" {
		return "<unset>"
	}
	return "<redacted>"
}

// init fills in the defaults and validates. It returns the parsed base URL.
func (o *Options) init(name string) (*url.URL, error) {
	u, err := ValidateURL(name, o.URL)
	if err != nil {
		return nil, err
	}
	if o.Token == "" {
		return nil, errors.New(name + ": token is required")
	}
	if o.MaxIdleConnsPerHost <= 0 {
		o.MaxIdleConnsPerHost = DefaultMaxIdleConns
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: newTransport(o.MaxIdleConnsPerHost)}
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = DefaultMaxRetries
	case o.MaxRetries < 0:
		o.MaxRetries = 0
	}
	if o.MinRetryBackoff <= 0 {
		o.MinRetryBackoff = DefaultMinRetryBackoff
	}
	if o.MaxRetryBackoff < o.MinRetryBackoff {
		o.MaxRetryBackoff = max(DefaultMaxRetryBackoff, o.MinRetryBackoff)
	}
	if o.BreakerFailures <= 0 {
		o.BreakerFailures = DefaultBreakerFailures
	}
	if o.BreakerOpenDelay <= 0 {
		o.BreakerOpenDelay = DefaultBreakerOpenDelay
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return u, nil
}

// ValidateURL checks a REST endpoint URL: https, or http to a loopback host,
// with no credentials in it. It returns the URL without a trailing slash.
// name starts its errors ("upstash").
func ValidateURL(name, raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New(name + ": URL is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes the input; say only that it failed, in case a
		// token was pasted into it.
		return nil, errors.New(name + ": URL does not parse")
	}
	if u.User != nil || u.Query().Has("_token") {
		return nil, errors.New(name + ": URL must not carry credentials; set the token on its own")
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%s: URL %q has no host", name, u.Redacted())
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !IsLoopback(u.Hostname()) {
			return nil, fmt.Errorf("%s: URL %q: http is allowed only for loopback hosts; use https", name, u.Redacted())
		}
	default:
		return nil, fmt.Errorf("%s: URL %q: scheme must be https", name, u.Redacted())
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	u.RawQuery = ""
	u.Fragment = ""
	return u, nil
}

// IsLoopback reports whether host is "localhost" or a loopback IP address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func newTransport(perHost int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = max(perHost*2, 100)
	t.MaxIdleConnsPerHost = perHost
	t.IdleConnTimeout = 90 * time.Second
	t.TLSHandshakeTimeout = 5 * time.Second
	t.ForceAttemptHTTP2 = true
	return t
}

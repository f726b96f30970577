// Package config reads settings from the environment, once, at cold start.
// Every reader collects its errors, so a bad configuration is reported whole.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Env reads typed settings through a lookup function such as os.LookupEnv.
type Env struct {
	lookup func(string) (string, bool)
	errs   []error
}

// NewEnv returns an Env over lookup.
func NewEnv(lookup func(string) (string, bool)) *Env { return &Env{lookup: lookup} }

// Lookup returns the raw value and whether it is set and not empty.
func (e *Env) Lookup(name string) (string, bool) {
	v, ok := e.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// String returns the value, or def when unset.
func (e *Env) String(name, def string) string {
	if v, ok := e.Lookup(name); ok {
		return v
	}
	return def
}

// Bool returns the value as a boolean (true/false/1/0), or def when unset.
func (e *Env) Bool(name string, def bool) bool {
	v, ok := e.Lookup(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want true or false", name, v))
		return def
	}
	return b
}

// Duration returns the value as a Go duration ("60s", "5m"), or def when
// unset. It must be positive.
func (e *Env) Duration(name string, def time.Duration) time.Duration {
	v, ok := e.Lookup(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want a positive duration such as 60s", name, v))
		return def
	}
	return d
}

// Int returns the value as an integer in [min, max], or def when unset.
func (e *Env) Int(name string, def, min, max int) int {
	v, ok := e.Lookup(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want an integer from %d to %d", name, v, min, max))
		return def
	}
	return n
}

// Float returns the value as a number in (min, max], or def when unset.
func (e *Env) Float(name string, def, min, max float64) float64 {
	v, ok := e.Lookup(name)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f > min && f <= max) {
		e.Fail(fmt.Errorf("%s=%q: want a number over %g, at most %g", name, v, min, max))
		return def
	}
	return f
}

// Fail records a problem found while reading.
func (e *Env) Fail(err error) { e.errs = append(e.errs, err) }

// Err returns every problem found, or nil.
func (e *Env) Err() error {
	if len(e.errs) == 0 {
		return nil
	}
	return fmt.Errorf("configuration: %w", errors.Join(e.errs...))
}

// Store is how a function reaches the Upstash REST endpoint.
type Store struct {
	// URL is UPSTASH_REDIS_REST_URL.
	URL string
	// Token is UPSTASH_REDIS_REST_TOKEN, for local runs and sam local. In
	// AWS it is empty, and TokenSecretARN names the secret holding it.
	Token string
	// TokenSecretARN is UPSTASH_REDIS_REST_TOKEN_SECRET_ARN.
	TokenSecretARN string
	// KeyPrefix is KEY_PREFIX.
	KeyPrefix string
}

// String describes the settings without the token.
func (s Store) String() string {
	return fmt.Sprintf("config.Store{URL: %q, Token: %s, TokenSecretARN: %q, KeyPrefix: %q}", s.URL, redacted(s.Token), s.TokenSecretARN, s.KeyPrefix)
}

// GoString is String, so %#v hides the token too.
func (s Store) GoString() string { return s.String() }

// redacted stands for a secret in a description: whether it is set, never
// what it is.
func redacted(secret string) string {
	if secret == "" {
		return "<unset>"
	}
	return "<redacted>"
}

// ReadStore reads the store settings. The URL is required, and so is one of
// the token or its secret's ARN.
func ReadStore(e *Env) Store {
	s := Store{
		URL:            e.String("UPSTASH_REDIS_REST_URL", ""),
		Token:          e.String("UPSTASH_REDIS_REST_TOKEN", ""),
		TokenSecretARN: e.String("UPSTASH_REDIS_REST_TOKEN_SECRET_ARN", ""),
		KeyPrefix:      e.String("KEY_PREFIX", ""),
	}
	if s.URL == "" {
		e.Fail(errors.New("UPSTASH_REDIS_REST_URL is required"))
	}
	if s.Token == "" && s.TokenSecretARN == "" {
		e.Fail(errors.New("set UPSTASH_REDIS_REST_TOKEN_SECRET_ARN (in AWS) or UPSTASH_REDIS_REST_TOKEN (locally)"))
	}
	return s
}

// MapLookup returns a lookup function over m, for tests and for settings that
// come from somewhere other than the process environment.
func MapLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// Approvals are the approval routes' settings.
type Approvals struct {
	AllowSelfApproval      bool          // ALLOW_SELF_APPROVAL, default false
	RetentionHours         int           // APPROVAL_RETENTION_HOURS, default 168
	WebhookSecret          string        // WEBHOOK_SECRET, locally
	WebhookSecretARN       string        // WEBHOOK_SECRET_SECRET_ARN, in AWS
	AllowInsecureCallbacks bool          // ALLOW_INSECURE_CALLBACKS
	CallbackHostAllowlist  []string      // CALLBACK_HOST_ALLOWLIST, comma-separated host suffixes
	WebhookBudget          time.Duration // WEBHOOK_BUDGET, default 2s
	// LinkSecret keys the approvers' link tokens: APPROVAL_LINK_SECRET
	// locally (the local stack generates it), or the secret
	// APPROVAL_LINK_SECRET_ARN names in AWS. Rotating it invalidates every
	// outstanding link.
	LinkSecret    string
	LinkSecretARN string
	// PublicBaseURL is PUBLIC_BASE_URL: where approvers' links point
	// ({PUBLIC_BASE_URL}/approve/{token}); the CDK stack sets it, and the
	// local stack defaults it to its API's address.
	PublicBaseURL string
	// NotifyURL is APPROVAL_NOTIFY_URL: the operator's endpoint that gets
	// approval.requested and approval.reminder, signed, with the
	// approvers' links, which it passes on to them (by e-mail, chat...).
	// Unset, no links leave the service but in the REST create answer, and
	// the MCP tool approval_request is refused.
	NotifyURL string
	// CallbackJWTSecret is CALLBACK_JWT_SECRET locally (the local stack
	// generates it), or the secret CALLBACK_JWT_SECRET_ARN names in AWS:
	// when set, every webhook carries Authorization: Bearer and an HS256
	// JWT under it, which n8n's Wait node checks (JWT Auth credential).
	CallbackJWTSecret    string
	CallbackJWTSecretARN string
	// AllowApproveOnTimeout is ALLOW_APPROVE_ON_TIMEOUT, default false:
	// whether an approval may ask for on_timeout "approved".
	AllowApproveOnTimeout bool
}

// ReadApprovals reads the approval settings. insecureDefault is the default
// of ALLOW_INSECURE_CALLBACKS: true for the local stack, false in AWS.
func ReadApprovals(e *Env, insecureDefault bool) Approvals {
	a := Approvals{
		AllowSelfApproval:      e.Bool("ALLOW_SELF_APPROVAL", false),
		RetentionHours:         e.Int("APPROVAL_RETENTION_HOURS", 168, 1, 24*365),
		WebhookSecret:          e.String("WEBHOOK_SECRET", ""),
		WebhookSecretARN:       e.String("WEBHOOK_SECRET_SECRET_ARN", ""),
		AllowInsecureCallbacks: e.Bool("ALLOW_INSECURE_CALLBACKS", insecureDefault),
		WebhookBudget:          e.Duration("WEBHOOK_BUDGET", 2*time.Second),
		LinkSecret:             e.String("APPROVAL_LINK_SECRET", ""),
		LinkSecretARN:          e.String("APPROVAL_LINK_SECRET_ARN", ""),
		PublicBaseURL:          strings.TrimSuffix(e.String("PUBLIC_BASE_URL", ""), "/"),
		NotifyURL:              e.String("APPROVAL_NOTIFY_URL", ""),
		AllowApproveOnTimeout:  e.Bool("ALLOW_APPROVE_ON_TIMEOUT", false),
		CallbackJWTSecret:      e.String("CALLBACK_JWT_SECRET", ""),
		CallbackJWTSecretARN:   e.String("CALLBACK_JWT_SECRET_ARN", ""),
	}
	if a.NotifyURL != "" {
		if u, err := url.Parse(a.NotifyURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			e.Fail(fmt.Errorf("APPROVAL_NOTIFY_URL=%q: want an absolute http(s) URL", a.NotifyURL))
		}
	}
	for _, h := range strings.Split(e.String("CALLBACK_HOST_ALLOWLIST", ""), ",") {
		if h = strings.TrimSpace(h); h != "" {
			a.CallbackHostAllowlist = append(a.CallbackHostAllowlist, h)
		}
	}
	return a
}

// String describes the settings without the secret.
func (a Approvals) String() string {
	return fmt.Sprintf("config.Approvals{AllowSelfApproval: %t, RetentionHours: %d, WebhookSecret: %s, WebhookSecretARN: %q, AllowInsecureCallbacks: %t, CallbackHostAllowlist: %q, WebhookBudget: %s, LinkSecret: %s, LinkSecretARN: %q, PublicBaseURL: %q, NotifyURL: %q, AllowApproveOnTimeout: %t, CallbackJWTSecret: %s, CallbackJWTSecretARN: %q}",
		a.AllowSelfApproval, a.RetentionHours, redact(a.WebhookSecret), a.WebhookSecretARN, a.AllowInsecureCallbacks, a.CallbackHostAllowlist, a.WebhookBudget,
		redact(a.LinkSecret), a.LinkSecretARN, a.PublicBaseURL, a.NotifyURL, a.AllowApproveOnTimeout, redact(a.CallbackJWTSecret), a.CallbackJWTSecretARN)
}

// GoString is String.
func (a Approvals) GoString() string { return a.String() }

func redact(s string) string {
	if s == "" {
		return "<unset>"
	}
	return "<redacted>"
}

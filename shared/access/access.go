// Package access is who may call what: clients, each with a name, one or
// two API keys (two while one is rotated) and scopes, and the check of each
// request against its route's scope. Locally the service reads the keys
// itself (API_KEY, API_KEYS) and compares their SHA-256 sums in constant
// time; in AWS, API Gateway checks the key and the functions map the key's
// id to its client (API_CLIENTS). Keys are never logged.
package access

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/caller"
	"github.com/ai-rails/state-service/shared/httpkit"
)

// Scope is what a client may do.
type Scope string

// The scopes. A route that needs "" takes any valid key (health, metrics).
const (
	// Read is every GET, POST /api/failures/similar, and the MCP tools that
	// only read.
	Read Scope = "read"
	// Write is workflow state, results, locks and approval creation, and
	// the MCP tools that write.
	Write Scope = "write"
	// Decide is POST /api/approval/{id}/decision, and the approvers' links
	// in the create answer.
	Decide Scope = "decide"
	// MCP is the /mcp endpoint.
	MCP Scope = "mcp"
	// All is every scope.
	All Scope = "*"
)

// Scopes are the scopes a client may list, All aside.
var Scopes = []Scope{Read, Write, Decide, MCP}

// Client is a caller of the API.
type Client struct {
	Name   string  `json:"name"`
	Scopes []Scope `json:"scopes"`
}

// Has reports whether the client may act with the scope; every client has
// "".
func (c Client) Has(s Scope) bool {
	return s == "" || slices.Contains(c.Scopes, s) || slices.Contains(c.Scopes, All)
}

// Default is the client of API_KEY, with every scope.
const Default = "default"

type ctxKey struct{}

// With returns ctx carrying the calling client, and its name for the
// stores' events (package caller).
func With(ctx context.Context, c Client) context.Context {
	return context.WithValue(caller.With(ctx, c.Name), ctxKey{}, c)
}

// From returns the calling client, if the request was authenticated.
func From(ctx context.Context) (Client, bool) {
	c, ok := ctx.Value(ctxKey{}).(Client)
	return c, ok
}

// Resolver finds the client a request comes from; ok is false for a
// request without a valid key.
type Resolver interface {
	Resolve(r *http.Request) (Client, bool)
}

// Authenticate refuses, with 403, a request whose client the resolver does
// not find, unless public says it needs none; the others go on with their
// client in the context. A nil resolver lets every request through as
// Default with every scope (in AWS, before API_CLIENTS is set, API Gateway
// alone checks the key).
func Authenticate(res Resolver, public func(*http.Request) bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if public != nil && public(r) {
				next.ServeHTTP(w, r)
				return
			}
			c := Client{Name: Default, Scopes: []Scope{All}}
			if res != nil {
				var ok bool
				if c, ok = res.Resolve(r); !ok {
					httpkit.WriteError(w, r, apperr.New(apperr.Forbidden, "a valid x-api-key header is required"))
					return
				}
			}
			inner := r.WithContext(With(r.Context(), c))
			next.ServeHTTP(w, inner)
			// The router sets the route's pattern on the request it serves;
			// the access log and the metrics outside read it from theirs.
			r.Pattern = inner.Pattern
		})
	}
}

// Require checks the calling client's scope before the route runs: a
// client without it gets 403 naming the scope, and nothing runs.
func Require(scope Scope, next httpkit.HandlerFunc) httpkit.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := Check(r.Context(), scope); err != nil {
			return err
		}
		return next(w, r)
	}
}

// Check is nil when the calling client has the scope, and otherwise the
// 403 that names it.
func Check(ctx context.Context, scope Scope) error {
	c, ok := From(ctx)
	if ok && c.Has(scope) {
		return nil
	}
	name := "this request"
	if ok {
		name = "client " + c.Name
	}
	return apperr.New(apperr.Forbidden, "%s lacks the scope %s", name, scope).With("missing_scope", string(scope))
}

// Keyring finds clients by their keys: the local stack's, from API_KEY and
// API_KEYS.
type Keyring struct {
	entries []entry
	clients []Client
}

type entry struct {
	sum    [sha256.Size]byte
	client int
}

// Clients are the keyring's clients, in order.
func (k *Keyring) Clients() []Client { return k.clients }

// Resolve finds the client of the request's x-api-key. Every key's SHA-256
// sum is compared, in constant time, so neither which key matched nor
// their lengths leak through timing.
func (k *Keyring) Resolve(r *http.Request) (Client, bool) {
	sum := sha256.Sum256([]byte(r.Header.Get(httpkit.APIKeyHeader)))
	found := -1
	for _, e := range k.entries {
		if subtle.ConstantTimeCompare(sum[:], e.sum[:]) == 1 {
			found = e.client
		}
	}
	if found < 0 {
		return Client{}, false
	}
	return k.clients[found], true
}

// KeyedClient is a client as API_KEYS lists it: its key, or keys while one
// is rotated.
type KeyedClient struct {
	Name   string   `json:"name"`
	Key    string   `json:"key"`
	Keys   []string `json:"keys"`
	Scopes []Scope  `json:"scopes"`
}

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// MinKeyLength is the shortest key API_KEYS takes.
const MinKeyLength = 16

// ParseKeys makes the keyring of API_KEY (the client Default, with every
// scope; "" for none) and API_KEYS (JSON: [{"name", "key" or "keys",
// "scopes"}]; "" for none). Errors never show a key.
func ParseKeys(defaultKey, keysJSON string) (*Keyring, error) {
	var listed []KeyedClient
	if strings.TrimSpace(keysJSON) != "" {
		dec := json.NewDecoder(strings.NewReader(keysJSON))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&listed); err != nil {
			return nil, fmt.Errorf(`API_KEYS: want JSON [{"name": "...", "key": "...", "scopes": ["read", ...]}]: %s`, redactJSONError(err))
		}
	}
	k := &Keyring{}
	seenKey := map[[sha256.Size]byte]bool{}
	add := func(c Client, keys []string) error {
		for _, key := range keys {
			sum := sha256.Sum256([]byte(key))
			if seenKey[sum] {
				return fmt.Errorf("API_KEYS: client %s: a key is given twice, or to two clients", c.Name)
			}
			seenKey[sum] = true
			k.entries = append(k.entries, entry{sum: sum, client: len(k.clients)})
		}
		k.clients = append(k.clients, c)
		return nil
	}
	if defaultKey != "" {
		if err := add(Client{Name: Default, Scopes: []Scope{All}}, []string{defaultKey}); err != nil {
			return nil, err
		}
	}
	names := map[string]bool{}
	if defaultKey != "" {
		names[Default] = true
	}
	for i, c := range listed {
		keys := c.Keys
		if c.Key != "" {
			keys = append([]string{c.Key}, keys...)
		}
		switch {
		case !namePattern.MatchString(c.Name):
			return nil, fmt.Errorf("API_KEYS[%d]: name %q must match %s", i, c.Name, namePattern)
		case names[c.Name]:
			return nil, fmt.Errorf("API_KEYS[%d]: the name %s is taken", i, c.Name)
		case len(keys) < 1 || len(keys) > 2:
			return nil, fmt.Errorf("API_KEYS[%d] (%s): give one key, or two while one is rotated", i, c.Name)
		}
		for _, key := range keys {
			if len(key) < MinKeyLength || len(key) > 256 || !printable(key) {
				return nil, fmt.Errorf("API_KEYS[%d] (%s): a key must be %d to 256 printable ASCII characters", i, c.Name, MinKeyLength)
			}
		}
		scopes, err := checkScopes(c.Scopes)
		if err != nil {
			return nil, fmt.Errorf("API_KEYS[%d] (%s): %w", i, c.Name, err)
		}
		names[c.Name] = true
		if err := add(Client{Name: c.Name, Scopes: scopes}, keys); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// checkScopes validates a client's scopes: at least one, each known, none
// twice.
func checkScopes(in []Scope) ([]Scope, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("list at least one scope of %s or *", Scopes)
	}
	for i, s := range in {
		if s != All && !slices.Contains(Scopes, s) {
			return nil, fmt.Errorf("unknown scope %q: want %s or *", s, Scopes)
		}
		if slices.Contains(in[:i], s) {
			return nil, fmt.Errorf("the scope %s is listed twice", s)
		}
	}
	return slices.Clone(in), nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// redactJSONError is a decoding error without the text it read, which may
// hold a key.
func redactJSONError(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("%s must be %s", te.Field, te.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return err.Error()
	}
	return "invalid JSON"
}

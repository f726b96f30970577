// Package wiring builds the service from its configuration: the store
// client (its token from Secrets Manager in AWS), the key schema, the
// logger, the metric counters, the domain services over their stores
// (package redisstore), the webhook sender, the handlers' settings and the
// sweeper. Every entry point builds it here, so each is wired the
// same way: the Lambda functions, the sweeper, the local stack, and the
// tests.
package wiring

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/ai-rails/state-service/shared/access"
	"github.com/ai-rails/state-service/shared/approval"
	"github.com/ai-rails/state-service/shared/awssecrets"
	"github.com/ai-rails/state-service/shared/config"
	"github.com/ai-rails/state-service/shared/failures"
	"github.com/ai-rails/state-service/shared/handlers"
	"github.com/ai-rails/state-service/shared/health"
	"github.com/ai-rails/state-service/shared/keys"
	"github.com/ai-rails/state-service/shared/metrics"
	"github.com/ai-rails/state-service/shared/observe"
	"github.com/ai-rails/state-service/shared/redisstore"
	"github.com/ai-rails/state-service/shared/restclient"
	"github.com/ai-rails/state-service/shared/sweep"
	"github.com/ai-rails/state-service/shared/testhistory"
	"github.com/ai-rails/state-service/shared/upstash"
	"github.com/ai-rails/state-service/shared/upstashvector"
	"github.com/ai-rails/state-service/shared/vectorindex"
	"github.com/ai-rails/state-service/shared/webhook"
)

// Options are what an entry point adds to the configuration: what is not a
// setting.
type Options struct {
	// Function names the entry point in metrics ("workflow", "sweeper",
	// "local"), unless Lambda names it.
	Function string
	// Webhooks is true where approval webhooks are sent, which then need
	// their signing secret.
	Webhooks bool
	// Out receives the JSON logs and the EMF metric lines; nil discards
	// them, unless Logger is set.
	Out io.Writer
	// Logger, when set, is used instead of a logger on Out.
	Logger *slog.Logger
	// EMF, when true, writes one EMF metric line per request to Out (Lambda).
	EMF bool
	// Backend names the store in /api/health; default: local for a loopback
	// store, upstash otherwise.
	Backend string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Guard, when set, replaces the callback guard the configuration makes
	// (the local stack adds its own listeners to it).
	Guard *webhook.Guard
	// WebhookBackoff is the wait between webhook attempts; zero is the
	// deliverer's default.
	WebhookBackoff time.Duration
	// Client edits the store client's options before it is made.
	Client func(*upstash.Options)
	// Vector edits the vector client's options before it is made.
	Vector func(*upstashvector.Options)
	// GatewayKeyID reads the id of the API Gateway key a request came with
	// (Lambda), for API_CLIENTS.
	GatewayKeyID func(*http.Request) string
	// MCP makes the MCP endpoint over the services (mcpserver.FromHandlers),
	// where it is served; nil serves none, and links no MCP SDK.
	MCP func(handlers.Services, handlers.Config) http.Handler
}

// Service is the wired service.
type Service struct {
	Config  config.Config
	Client  *upstash.Client
	Keys    keys.Schema
	Logger  *slog.Logger
	Metrics *metrics.Counters
	// Services are the domain services over the store, for the handlers.
	Services handlers.Services
	// HTTP are the handlers' settings.
	HTTP handlers.Config
	// Approvals is the approval service (also in Services), which the
	// sweeper uses too.
	Approvals *approval.Service
	// Guard checks callback URLs, at create and at every delivery.
	Guard   *webhook.Guard
	Sweeper *sweep.Sweeper
	// Index is the failure memory's vector index; nil without
	// UPSTASH_VECTOR_REST_URL.
	Index failures.Index
	// Keyring holds the clients of API_KEY and API_KEYS, where the service
	// checks keys itself (the local stack); nil otherwise.
	Keyring *access.Keyring
}

// Handler returns the API of the functions named (all routes when none is).
func (s *Service) Handler(functions ...string) http.Handler {
	return handlers.New(s.Services, s.HTTP, functions...)
}

// Build wires the service. It fetches the secrets that the configuration
// names by ARN, once.
func Build(ctx context.Context, cfg config.Config, o Options) (*Service, error) {
	if err := cfg.Validate(o.Webhooks); err != nil {
		return nil, err
	}
	logger := o.Logger
	if logger == nil {
		out := o.Out
		if out == nil {
			out = io.Discard
		}
		var err error
		if logger, err = observe.NewLogger(out, cfg.LogLevel); err != nil {
			return nil, err
		}
	}
	if err := fetchSecrets(ctx, &cfg, o.Webhooks); err != nil {
		return nil, err
	}
	schema, err := keys.New(cfg.Store.KeyPrefix)
	if err != nil {
		return nil, err
	}
	counters := metrics.NewCounters(schema, o.Now, cfg.MetricsFlushInterval)
	opts := upstash.Options{Options: restclient.Options{URL: cfg.Store.URL, Token: cfg.Store.Token, Logger: logger}}
	metrics.Instrument(&opts, counters)
	if o.Client != nil {
		o.Client(&opts)
	}
	client, err := upstash.New(opts)
	if err != nil {
		return nil, err
	}
	guard := o.Guard
	if guard == nil {
		guard = &webhook.Guard{AllowInsecureLoopback: cfg.Approvals.AllowInsecureCallbacks, Allowlist: cfg.Approvals.CallbackHostAllowlist}
	}
	deliverer := webhook.NewDeliverer(webhook.Options{Secret: []byte(cfg.Approvals.WebhookSecret), JWTSecret: []byte(cfg.Approvals.CallbackJWTSecret), Guard: guard,
		Budget: cfg.Approvals.WebhookBudget, Backoff: o.WebhookBackoff, Now: o.Now})
	retention := time.Duration(cfg.Approvals.RetentionHours) * time.Hour
	approvals := approval.NewService(redisstore.NewApprovals(client, schema, retention, o.Now), approval.Options{
		Sender: sender{deliverer}, Callbacks: guard,
		LinkSecret: []byte(cfg.Approvals.LinkSecret), PublicBaseURL: cfg.Approvals.PublicBaseURL, AllowSelfApproval: cfg.Approvals.AllowSelfApproval, Now: o.Now, Logger: logger,
		AllowApproveOnTimeout: cfg.Approvals.AllowApproveOnTimeout, NotifyURL: cfg.Approvals.NotifyURL,
	})
	function := o.Function
	if cfg.FunctionName != "" {
		function = cfg.FunctionName
	}
	backend := o.Backend
	if backend == "" {
		backend = backendOf(cfg.Store.URL)
	}
	var emf io.Writer
	if o.EMF {
		emf = o.Out
	}
	index, err := vectorIndex(cfg.Memory, logger, o.Vector)
	if err != nil {
		return nil, err
	}
	keyring, clients, err := clientResolver(cfg, o)
	if err != nil {
		return nil, err
	}
	fails := redisstore.NewFailures(client, schema, index)
	rules := testhistory.DefaultRules
	if cfg.Memory.FlakyMinRuns > 0 {
		rules.MinRuns = cfg.Memory.FlakyMinRuns
	}
	if cfg.Memory.FlakyFlipRate > 0 {
		rules.FlipRate = cfg.Memory.FlakyFlipRate
	}
	s := &Service{Config: cfg, Client: client, Keys: schema, Logger: logger, Metrics: counters, Index: index,
		Services: handlers.Services{
			Workflows:   redisstore.NewWorkflows(client, schema, o.Now),
			Locks:       redisstore.NewLocks(client, schema, o.Now),
			Approvals:   approvals,
			Results:     redisstore.NewResults(client, schema, redisstore.ResultsOptions{Now: o.Now, Logger: logger, Index: index}),
			TestHistory: redisstore.NewTestHistory(client, schema, rules, o.Now),
			Failures:    fails,
			Health:      client,
			Metrics:     metrics.NewReader(client, schema),
		},
		HTTP: handlers.Config{
			Clients: clients, Backend: backend, Logger: logger, Now: o.Now, Keys: schema,
			Counters: counters, Function: function, EMF: emf, PublicBaseURL: cfg.Approvals.PublicBaseURL,
		},
		Approvals: approvals, Guard: guard, Keyring: keyring,
	}
	if o.MCP != nil {
		s.Services.MCP = o.MCP(s.Services, s.HTTP)
	}
	var outbox failures.Outbox
	if index != nil {
		outbox = fails
	}
	s.Sweeper = sweep.New(client, schema, approvals, s.Services.Locks, outbox, o.Now, logger, emf)
	return s, nil
}

// clientResolver finds callers: by their keys where API_KEY or API_KEYS
// is set (the local stack), by their API Gateway key ids where API_CLIENTS
// is (AWS); with neither, every request has every scope.
func clientResolver(cfg config.Config, o Options) (*access.Keyring, access.Resolver, error) {
	switch {
	case cfg.APIKey != "" || cfg.APIKeys != "":
		k, err := access.ParseKeys(cfg.APIKey, cfg.APIKeys)
		if err != nil {
			return nil, nil, err
		}
		return k, k, nil
	case cfg.APIClients != "":
		if o.GatewayKeyID == nil {
			return nil, nil, errors.New("API_CLIENTS is set, but this entry point cannot read API Gateway key ids")
		}
		g, err := access.ParseGateway(cfg.APIClients, o.GatewayKeyID)
		if err != nil {
			return nil, nil, err
		}
		return nil, g, nil
	}
	return nil, nil, nil
}

// vectorIndex builds the failure memory's vector index, or nil when no
// Upstash Vector is configured.
func vectorIndex(m config.Memory, logger *slog.Logger, edit func(*upstashvector.Options)) (failures.Index, error) {
	if m.VectorURL == "" {
		return nil, nil
	}
	opts := upstashvector.Options{Options: restclient.Options{URL: m.VectorURL, Token: m.VectorToken, Logger: logger}}
	if edit != nil {
		edit(&opts)
	}
	c, err := upstashvector.New(opts)
	if err != nil {
		return nil, err
	}
	return vectorindex.New(c, m.Embedding), nil
}

// fetchSecrets reads the store token and, for webhooks, the signing secret
// from Secrets Manager when the configuration names them by ARN.
func fetchSecrets(ctx context.Context, cfg *config.Config, webhooks bool) error {
	st, ap, mem := &cfg.Store, &cfg.Approvals, &cfg.Memory
	if st.TokenSecretARN == "" && mem.VectorTokenSecretARN == "" && (!webhooks || ap.WebhookSecretARN == "" && ap.LinkSecretARN == "" && ap.CallbackJWTSecretARN == "") {
		return nil
	}
	sm, err := awssecrets.FromEnv(os.LookupEnv)
	if err != nil {
		return err
	}
	if st.TokenSecretARN != "" {
		if st.Token, err = awssecrets.Fetch(ctx, sm, st.TokenSecretARN, "token"); err != nil {
			return err
		}
	}
	if mem.VectorURL != "" && mem.VectorTokenSecretARN != "" {
		if mem.VectorToken, err = awssecrets.Fetch(ctx, sm, mem.VectorTokenSecretARN, "token"); err != nil {
			return err
		}
	}
	if webhooks && ap.WebhookSecretARN != "" {
		if ap.WebhookSecret, err = awssecrets.Fetch(ctx, sm, ap.WebhookSecretARN, "secret"); err != nil {
			return err
		}
	}
	if webhooks && ap.CallbackJWTSecretARN != "" {
		if ap.CallbackJWTSecret, err = awssecrets.Fetch(ctx, sm, ap.CallbackJWTSecretARN, "secret"); err != nil {
			return err
		}
	}
	if webhooks && ap.LinkSecretARN != "" {
		if ap.LinkSecret, err = awssecrets.Fetch(ctx, sm, ap.LinkSecretARN, "secret"); err != nil {
			return err
		}
	}
	return nil
}

// backendOf names the store for health: a loopback endpoint is the local
// stack's REST server (sam local against make run).
func backendOf(storeURL string) string {
	if u, err := url.Parse(storeURL); err == nil && upstash.IsLoopback(u.Hostname()) {
		return health.BackendLocal
	}
	return health.BackendUpstash
}

// sender is the approval.Sender of a webhook.Deliverer: the same delivery
// and attempts, in each package's own types.
type sender struct{ d *webhook.Deliverer }

func (s sender) Deliver(ctx context.Context, d approval.Delivery) []approval.Attempt {
	attempts := s.d.Deliver(ctx, webhook.Delivery(d))
	out := make([]approval.Attempt, len(attempts))
	for i, a := range attempts {
		out[i] = approval.Attempt(a)
	}
	return out
}

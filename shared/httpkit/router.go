package httpkit

import (
	"bytes"
	"log/slog"
	"net/http"

	"github.com/ai-rails/state-service/shared/apperr"
)

// Router routes with http.ServeMux method patterns ("GET /api/health") and
// answers unknown routes and wrong methods with problem+json.
type Router struct {
	mux *http.ServeMux
}

// NewRouter returns an empty Router.
func NewRouter() *Router { return &Router{mux: http.NewServeMux()} }

// Handle registers h for the pattern.
func (rt *Router) Handle(pattern string, h http.Handler) { rt.mux.Handle(pattern, h) }

// HandleFunc registers f for the pattern.
func (rt *Router) HandleFunc(pattern string, f http.HandlerFunc) { rt.mux.HandleFunc(pattern, f) }

// Matches reports whether a route takes the request (its method and path).
func (rt *Router) Matches(r *http.Request) bool { return rt.Pattern(r) != "" }

// Pattern returns the pattern of the route that takes the request, or "".
func (rt *Router) Pattern(r *http.Request) string {
	_, pattern := rt.mux.Handler(r)
	return pattern
}

// OnRoutes applies mw only to requests a route of rt takes, so that a
// request for no route is answered not-found (or method-not-allowed), not
// by what mw checks.
func OnRoutes(rt *Router, mw Middleware) Middleware {
	return func(next http.Handler) http.Handler {
		wrapped := mw(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if rt.Matches(r) {
				wrapped.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// ServeHTTP dispatches to the matching route. ServeMux answers a miss in
// plain text; the router answers it as a problem instead, keeping the
// Allow header of a 405.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h, pattern := rt.mux.Handler(r)
	if pattern != "" {
		rt.mux.ServeHTTP(w, r)
		return
	}
	rec := &recorder{header: http.Header{}, Code: http.StatusOK}
	h.ServeHTTP(rec, r)
	switch rec.Code {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", rec.Header().Get("Allow"))
		WriteError(w, r, apperr.New(apperr.MethodNotAllowed, "%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, rec.Header().Get("Allow")))
	case http.StatusNotFound:
		WriteError(w, r, apperr.New(apperr.NotFound, "no route for %s %s", r.Method, r.URL.Path))
	default:
		// A redirect to the cleaned path, for example.
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}
}

// Config configures the middleware stack of New.
type Config struct {
	// Auth authenticates each request (access.Authenticate): it answers
	// those without a valid key itself; nil lets every request through.
	Auth Middleware
	// Logger receives access logs and errors. Default: slog.Default().
	Logger *slog.Logger
	// Observe wraps each request just inside the request id, so that it sees
	// every answer, refusals of the API key included (metrics).
	Observe []Middleware
	// Inner wraps each request that passed the API key, just outside the
	// route (Idempotency-Key).
	Inner []Middleware
}

// New wraps the router in the API's middleware, outermost first: request
// id, access log, panic recovery, authentication, no-store reads.
func New(cfg Config, rt *Router) http.Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	mws := append([]Middleware{RequestID(cfg.Logger)}, cfg.Observe...)
	mws = append(mws, AccessLog, Recover)
	if cfg.Auth != nil {
		mws = append(mws, cfg.Auth)
	}
	mws = append(mws, NoStore)
	return Chain(rt, append(mws, cfg.Inner...)...)
}

// recorder keeps what ServeMux's own answer to a miss would have been (a
// 404, a 405 with Allow, or a redirect), without net/http/httptest, which
// no Lambda binary should link.
type recorder struct {
	header http.Header
	Code   int
	Body   bytes.Buffer
	wrote  bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.Code, r.wrote = code, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.Body.Write(b)
}

// HandlerFunc is a route's handler: it writes its answer, or returns the
// error that stops it, which ServeHTTP answers as problem+json through the
// one table of problem.go.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// ServeHTTP runs f and answers its error.
func (f HandlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := f(w, r); err != nil {
		WriteError(w, r, err)
	}
}

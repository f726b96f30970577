// Package observe holds the service's logging and metrics plumbing.
package observe

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// NewLogger returns a JSON slog logger at the level named by level ("debug",
// "info", "warn" or "error"; "" means info).
func NewLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if level != "" {
		if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
			return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
		}
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})), nil
}

type loggerKey struct{}

// WithLogger returns a context carrying the logger.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// WithLoggerAttrs returns a context carrying base.With(args...), made on
// first use: most requests log nothing at the level set, and With formats
// its attributes at once, on every request.
func WithLoggerAttrs(ctx context.Context, base *slog.Logger, args ...any) context.Context {
	return context.WithValue(ctx, loggerKey{}, &lazyLogger{base: base, args: args})
}

type lazyLogger struct {
	once sync.Once
	base *slog.Logger
	args []any
	l    *slog.Logger
}

func (z *lazyLogger) logger() *slog.Logger {
	z.once.Do(func() { z.l = z.base.With(z.args...) })
	return z.l
}

// Logger returns the context's logger, or slog.Default().
func Logger(ctx context.Context) *slog.Logger {
	switch l := ctx.Value(loggerKey{}).(type) {
	case *slog.Logger:
		return l
	case *lazyLogger:
		return l.logger()
	}
	return slog.Default()
}

// Enabled reports whether the context's logger logs at level, without
// making a logger that WithLoggerAttrs left for later.
func Enabled(ctx context.Context, level slog.Level) bool {
	switch l := ctx.Value(loggerKey{}).(type) {
	case *slog.Logger:
		return l.Enabled(ctx, level)
	case *lazyLogger:
		return l.base.Enabled(ctx, level)
	}
	return slog.Default().Enabled(ctx, level)
}

package observe

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// WithLoggerAttrs: the logger carries the attributes when it is used, and
// Enabled answers by the base logger's level without making it.
func TestWithLoggerAttrs(t *testing.T) {
	var buf bytes.Buffer
	base, err := NewLogger(&buf, "warn")
	require.NoError(t, err)
	ctx := WithLoggerAttrs(context.Background(), base, "request_id", "r-1")
	assert.False(t, Enabled(ctx, slog.LevelInfo))
	assert.True(t, Enabled(ctx, slog.LevelWarn))
	assert.Nil(t, ctx.Value(loggerKey{}).(*lazyLogger).l, "not made yet")
	Logger(ctx).Warn("hello")
	Logger(ctx).Warn("again")
	assert.Equal(t, 2, strings.Count(buf.String(), `"request_id":"r-1"`))
	assert.Same(t, Logger(ctx), Logger(ctx), "made once")
	assert.True(t, Enabled(context.Background(), slog.LevelInfo), "slog.Default logs info")
}

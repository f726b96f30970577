package observe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ai-rails/state-service/shared/observe"
)

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	l, err := observe.NewLogger(&buf, "warn")
	require.NoError(t, err)
	l.Info("hidden")
	l.Warn("shown", "k", 1)
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
	assert.Equal(t, "shown", line["msg"])
	assert.Equal(t, float64(1), line["k"])

	_, err = observe.NewLogger(&buf, "loud")
	assert.ErrorContains(t, err, "log level")
	_, err = observe.NewLogger(&buf, "")
	assert.NoError(t, err)

	ctx := observe.WithLogger(context.Background(), l)
	assert.Same(t, l, observe.Logger(ctx))
	assert.Same(t, slog.Default(), observe.Logger(context.Background()))
}

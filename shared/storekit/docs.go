package storekit

import (
	"context"
	"errors"
	"fmt"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/jsondoc"
	"github.com/ai-rails/state-service/shared/upstash"
)

// Get reads the document at key into a T. what names it in errors, such as
// "workflow ABC-123456".
func Get[T any](ctx context.Context, c *upstash.Client, key, what string) (T, error) {
	var v T
	raw, err := upstash.String(c.Do(ctx, "GET", key))
	if errors.Is(err, upstash.ErrNil) {
		return v, apperr.New(apperr.NotFound, "%s not found", what)
	}
	if err != nil {
		return v, fmt.Errorf("get %s: %w", what, err)
	}
	if err := jsondoc.Unmarshal([]byte(raw), &v); err != nil {
		return v, fmt.Errorf("get %s: the stored document does not parse: %w", what, err)
	}
	return v, nil
}

// List reads every element of the list at key, each a JSON document, into
// T, oldest first, and whether the document at owner exists, in one
// pipeline. A list with no elements whose owner is gone is not found: what
// names it in errors.
func Trail[T any](ctx context.Context, c *upstash.Client, key, owner, what string) ([]T, error) {
	res, err := c.Pipeline(ctx, []any{"LRANGE", key, 0, -1}, []any{"EXISTS", owner})
	if err == nil {
		err = errors.Join(res[0].Err, res[1].Err)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	raw, err := upstash.Strings(res[0].Value, nil)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if len(raw) == 0 && res[1].Value == int64(0) {
		return nil, apperr.New(apperr.NotFound, "%s not found", what)
	}
	out := make([]T, len(raw))
	for i, r := range raw {
		if err := jsondoc.Unmarshal([]byte(r), &out[i]); err != nil {
			return nil, fmt.Errorf("read %s: element %d: %w", what, i, err)
		}
	}
	return out, nil
}

// Package docs reads the service's JSON documents from the store: one GET,
// a missing key answered as not-found, and a stored document that does not
// parse reported as the server's fault.
package docs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ai-rails/state-service/shared/apperr"
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
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		return v, fmt.Errorf("get %s: the stored document does not parse: %w", what, err)
	}
	return v, nil
}

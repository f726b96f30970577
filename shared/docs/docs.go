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

// Entry is one stream entry: its id and its fields.
type Entry struct {
	ID     string
	Fields map[string]string
}

// Stream reads every entry of the stream at key, oldest first, and whether
// the document at owner exists, in one pipeline. A trail with no entries
// whose owner is gone is not found: what names it in errors.
func Stream(ctx context.Context, c *upstash.Client, key, owner, what string) ([]Entry, error) {
	res, err := c.Pipeline(ctx, []any{"XRANGE", key, "-", "+"}, []any{"EXISTS", owner})
	if err == nil {
		err = errors.Join(res[0].Err, res[1].Err)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	raw, _ := res[0].Value.([]any)
	if len(raw) == 0 && res[1].Value == int64(0) {
		return nil, apperr.New(apperr.NotFound, "%s not found", what)
	}
	out := make([]Entry, 0, len(raw))
	for _, e := range raw {
		pair, ok := e.([]any)
		if !ok || len(pair) != 2 {
			return nil, fmt.Errorf("read %s: malformed stream entry", what)
		}
		fields, err := upstash.Strings(pair[1], nil)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", what, err)
		}
		ent := Entry{Fields: make(map[string]string, len(fields)/2)}
		ent.ID, _ = pair[0].(string)
		for i := 0; i+1 < len(fields); i += 2 {
			ent.Fields[fields[i]] = fields[i+1]
		}
		out = append(out, ent)
	}
	return out, nil
}

// List reads every element of the list at key, each a JSON document, into
// T, oldest first, and whether the document at owner exists, in one
// pipeline. A list with no elements whose owner is gone is not found: what
// names it in errors.
func List[T any](ctx context.Context, c *upstash.Client, key, owner, what string) ([]T, error) {
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
		if err := json.Unmarshal([]byte(r), &out[i]); err != nil {
			return nil, fmt.Errorf("read %s: element %d: %w", what, i, err)
		}
	}
	return out, nil
}

// Package caller carries the name of the client a request comes from
// (package access sets it), for the stores to record in the history and
// audit events it causes. It is a context key and nothing else, so that the
// stores need not know how clients are found.
package caller

import "context"

type key struct{}

// With returns ctx carrying the client's name.
func With(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, key{}, name)
}

// Name is the calling client's name; "" when the request had none (a
// public route, the sweeper).
func Name(ctx context.Context) string {
	n, _ := ctx.Value(key{}).(string)
	return n
}

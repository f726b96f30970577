// Package apperr holds the service's error kinds, which the domain packages
// return and the HTTP layer maps to status codes and problem+json slugs
// through one table (httpkit).
package apperr

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an error for the client.
type Kind int

// The kinds, one per problem+json slug of API.md.
const (
	Internal             Kind = iota // 500 internal
	Validation                       // 400 validation
	NotFound                         // 404 not-found
	MethodNotAllowed                 // 405 method-not-allowed
	Conflict                         // 409 conflict
	InvalidTransition                // 409 invalid-transition
	PreconditionFailed               // 412 precondition-failed
	Gone                             // 410 gone
	Forbidden                        // 403 forbidden
	TooLarge                         // 413 too-large
	UnsupportedMediaType             // 415 unsupported-media-type
	Unprocessable                    // 422 unprocessable
	StoreUnavailable                 // 503 store-unavailable
)

// FieldError is one invalid field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is an error for the client: its kind, a detail sentence, the invalid
// fields, and extra members for the problem body (such as the current
// approval of a 409).
type Error struct {
	Kind   Kind
	Detail string
	Fields []FieldError
	// Extra holds members added to the problem+json body.
	Extra map[string]any
	// Err is the cause, for logs; it is never shown to the client.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Detail)
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "; %s: %s", f.Field, f.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error of the kind with a formatted detail.
func New(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of the kind with a detail, keeping err as the cause.
func Wrap(kind Kind, err error, detail string) *Error {
	return &Error{Kind: kind, Detail: detail, Err: err}
}

// Invalid returns a validation error listing the invalid fields.
func Invalid(fields ...FieldError) *Error {
	detail := "the request is invalid"
	if len(fields) == 1 {
		detail = fields[0].Field + " " + fields[0].Message
	}
	return &Error{Kind: Validation, Detail: detail, Fields: fields}
}

// Field returns a FieldError.
func Field(field, format string, args ...any) FieldError {
	return FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// With returns the error with an extra problem member added.
func (e *Error) With(key string, value any) *Error {
	if e.Extra == nil {
		e.Extra = map[string]any{}
	}
	e.Extra[key] = value
	return e
}

// KindOf returns the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Collector gathers field errors while a request is validated.
type Collector struct{ fields []FieldError }

// Add records an invalid field.
func (c *Collector) Add(field, format string, args ...any) {
	c.fields = append(c.fields, Field(field, format, args...))
}

// Fields returns the field errors added so far.
func (c *Collector) Fields() []FieldError { return c.fields }

// Err returns a validation error of every field added, or nil.
func (c *Collector) Err() error {
	if len(c.fields) == 0 {
		return nil
	}
	return Invalid(c.fields...)
}

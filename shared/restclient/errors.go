package restclient

import (
	"errors"
	"time"
)

// ErrUnavailable is wrapped by every error that means the service could not
// be reached or did not answer: network errors, 5xx answers, timeouts,
// throttling and an open circuit. Test for it with errors.Is.
var ErrUnavailable = errors.New("upstash: store unavailable")

// ErrCircuitOpen is returned, wrapped with ErrUnavailable, while the circuit
// breaker is open and calls fail fast.
var ErrCircuitOpen = errors.New("upstash: circuit open")

// ErrThrottled is returned, wrapped with ErrUnavailable, when Upstash refuses
// a request for exceeding the plan's request limits.
var ErrThrottled = errors.New("upstash: throttled")

// unavailableError is a failure of the service itself. It wraps
// ErrUnavailable and the cause, and records whether a retry is safe and
// whether the failure counts against the circuit breaker.
type unavailableError struct {
	name      string
	msg       string
	cause     error
	retryable bool
	trips     bool          // counts as a failure for the circuit breaker
	wait      time.Duration // how long until a retry may succeed, if known
}

func (e *unavailableError) Error() string {
	if e.cause != nil {
		return e.name + ": " + e.msg + ": " + e.cause.Error()
	}
	return e.name + ": " + e.msg
}

func (e *unavailableError) Unwrap() []error {
	if e.cause != nil {
		return []error{ErrUnavailable, e.cause}
	}
	return []error{ErrUnavailable}
}

// Unavailable returns an error that wraps ErrUnavailable and cause (which
// may be nil): retryable says a retry is safe, trips that it counts against
// the circuit breaker. name starts its message ("upstash").
func Unavailable(name, msg string, cause error, retryable, trips bool) error {
	return &unavailableError{name: name, msg: msg, cause: cause, retryable: retryable, trips: trips}
}

// Unavailable is the package's Unavailable, named for this client.
func (c *Client) Unavailable(msg string, cause error, retryable, trips bool) error {
	return Unavailable(c.name, msg, cause, retryable, trips)
}

// Throttled returns the error of a request refused for the plan's limits.
func (c *Client) Throttled(msg string, retryable bool) error {
	return &unavailableError{name: c.name, msg: msg, cause: ErrThrottled, retryable: retryable}
}

// RetryAfter suggests how long a client should wait before retrying after
// err: the time until an open circuit lets a trial through, or one second for
// any other outage. It is 0 for errors that are not ErrUnavailable.
func RetryAfter(err error) time.Duration {
	var u *unavailableError
	if !errors.As(err, &u) {
		return 0
	}
	return max(u.wait, time.Second)
}

func isRetryable(err error) bool {
	var u *unavailableError
	return errors.As(err, &u) && u.retryable
}

func tripsBreaker(err error) bool {
	var u *unavailableError
	return errors.As(err, &u) && u.trips
}

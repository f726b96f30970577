package upstash

import (
	"errors"
	"strings"
	"time"

	"github.com/ai-rails/state-service/shared/restclient"
)

// ErrNil is returned when Redis answers with a nil reply, for example GET of a
// missing key.
var ErrNil = errors.New("upstash: nil")

// ErrUnavailable is wrapped by every error that means the store could not be
// reached or did not answer: network errors, 5xx answers, timeouts, throttling
// and an open circuit. Test for it with errors.Is. It is restclient's, so
// an outage of any of Upstash's services matches it.
var ErrUnavailable = restclient.ErrUnavailable

// ErrCircuitOpen is returned, wrapped with ErrUnavailable, while the circuit
// breaker is open and calls fail fast.
var ErrCircuitOpen = restclient.ErrCircuitOpen

// ErrThrottled is returned, wrapped with ErrUnavailable, when Upstash refuses a
// request for exceeding the plan's request limits.
var ErrThrottled = restclient.ErrThrottled

// RetryAfter suggests how long a client should wait before retrying after
// err (restclient.RetryAfter).
func RetryAfter(err error) time.Duration { return restclient.RetryAfter(err) }

// ErrBinaryArg is returned when an argument that is not valid UTF-8 cannot be
// sent: JSON carries only UTF-8, so such a value may only be the last argument
// of a single command, which then travels as the raw request body.
var ErrBinaryArg = errors.New("upstash: a non-UTF-8 argument must be the last argument of a single command")

// Error is an error answered by Redis or by the REST endpoint, such as
// "WRONGTYPE Operation against a key holding the wrong kind of value".
type Error struct {
	// Prefix is the error code: the first word of Message when it is upper
	// case ("ERR", "WRONGTYPE", "NOSCRIPT", "WRONGPASS", ...), else "ERR".
	Prefix string
	// Message is the server's message, as sent.
	Message string
	// StatusCode is the HTTP status of the answer that carried the error, or 0
	// for an error inside a pipeline or transaction.
	StatusCode int
}

func (e *Error) Error() string { return "upstash: " + e.Message }

// newError builds an *Error from a server message.
func newError(msg string, status int) *Error {
	return &Error{Prefix: errorPrefix(msg), Message: msg, StatusCode: status}
}

func errorPrefix(msg string) string {
	word, _, _ := strings.Cut(msg, " ")
	if word == "" {
		return "ERR"
	}
	for _, r := range word {
		if (r < 'A' || r > 'Z') && r != '_' {
			return "ERR"
		}
	}
	return word
}

// HasPrefix reports whether err is an *Error with the given prefix, such as
// "NOSCRIPT".
func HasPrefix(err error, prefix string) bool {
	var e *Error
	return errors.As(err, &e) && e.Prefix == prefix
}

// throttleMessages are the error texts by which Upstash refuses work for
// exceeding a plan's limits. They mean "back off", not "bad command".
var throttleMessages = []string{
	"max requests limit exceeded",
	"max daily request limit exceeded",
}

// transientPrefixes are the error replies of a Redis that cannot serve for
// a moment (loading its data after a restart, busy with a script, a replica
// cut off from its primary): the store is unavailable, not the request
// wrong.
var transientPrefixes = []string{"LOADING ", "BUSY ", "MASTERDOWN ", "TRYAGAIN ", "CLUSTERDOWN "}

func isTransientMessage(msg string) bool {
	for _, p := range transientPrefixes {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

func isThrottleMessage(msg string) bool {
	for _, m := range throttleMessages {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// Circuit states, as CircuitState reports them.
const (
	CircuitClosed   = restclient.CircuitClosed
	CircuitOpen     = restclient.CircuitOpen
	CircuitHalfOpen = restclient.CircuitHalfOpen
)

package restclient

import (
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
)

// Circuit states, as CircuitState reports them.
const (
	CircuitClosed   = "closed"
	CircuitOpen     = "open"
	CircuitHalfOpen = "half_open"
)

func newRetryPolicy(name string, o *Options) retrypolicy.RetryPolicy[any] {
	log := o.Logger
	return retrypolicy.NewBuilder[any]().
		HandleIf(func(_ any, err error) bool { return isRetryable(err) }).
		WithMaxRetries(o.MaxRetries).
		WithBackoff(o.MinRetryBackoff, o.MaxRetryBackoff).
		WithJitterFactor(0.5).
		ReturnLastFailure().
		OnRetry(func(e failsafe.ExecutionEvent[any]) {
			log.Debug(name+": retrying", "attempt", e.Attempts(), "error", e.LastError())
		}).
		Build()
}

func newBreaker(name string, o *Options) circuitbreaker.CircuitBreaker[any] {
	log := o.Logger
	return circuitbreaker.NewBuilder[any]().
		HandleIf(func(_ any, err error) bool { return tripsBreaker(err) }).
		WithFailureThreshold(uint(o.BreakerFailures)).
		WithDelay(o.BreakerOpenDelay).
		WithSuccessThreshold(1).
		OnStateChanged(func(e circuitbreaker.StateChangedEvent) {
			log.Warn(name+": circuit changed", "from", stateName(e.OldState), "to", stateName(e.NewState))
		}).
		Build()
}

// CircuitState reports the circuit breaker's state: "closed", "open" or
// "half_open". An open circuit whose delay has passed reports "half_open":
// the next call is let through as a trial.
func (c *Client) CircuitState() string {
	s := c.breaker.State()
	if s == circuitbreaker.OpenState && c.breaker.RemainingDelay() <= 0 {
		return CircuitHalfOpen
	}
	return stateName(s)
}

func stateName(s circuitbreaker.State) string {
	switch s {
	case circuitbreaker.OpenState:
		return CircuitOpen
	case circuitbreaker.HalfOpenState:
		return CircuitHalfOpen
	}
	return CircuitClosed
}

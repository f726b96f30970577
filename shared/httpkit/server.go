package httpkit

import (
	"net/http"
	"time"
)

// Timeouts are a server's limits on slow clients.
type Timeouts struct {
	// ReadHeader is how long a client has to send its request's headers.
	ReadHeader time.Duration
	// Read is how long it has to send the whole request, body included.
	Read time.Duration
	// Write is how long the server has to send the answer, counted from
	// the end of the request's headers. Event streams lift it for
	// themselves.
	Write time.Duration
	// Idle is how long a kept-alive connection may wait for its next
	// request.
	Idle time.Duration
}

// DefaultTimeouts are the limits of every server the project starts: a
// request has 5 s for its headers and 30 s in all (a 10 MB REST body at
// 3 Mbit/s), an answer 60 s (a store call that times out and is retried
// takes under 10 s; a webhook delivery in the request, 5 s), and an idle
// connection is closed after 120 s.
var DefaultTimeouts = Timeouts{ReadHeader: 5 * time.Second, Read: 30 * time.Second, Write: 60 * time.Second, Idle: 120 * time.Second}

// NewServer returns an http.Server for h with the timeouts t, or
// DefaultTimeouts where t leaves one at zero.
func NewServer(h http.Handler, t Timeouts) *http.Server {
	or := func(d, def time.Duration) time.Duration {
		if d > 0 {
			return d
		}
		return def
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: or(t.ReadHeader, DefaultTimeouts.ReadHeader),
		ReadTimeout:       or(t.Read, DefaultTimeouts.Read),
		WriteTimeout:      or(t.Write, DefaultTimeouts.Write),
		IdleTimeout:       or(t.Idle, DefaultTimeouts.Idle),
	}
}

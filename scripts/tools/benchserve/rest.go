package main

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/ai-rails/state-service/shared/upstash/restserver"
)

// countingREST is the REST server with a count of the requests it served,
// which GET /__requests answers (with the token), so that make bench can
// check one Upstash request per API call.
type countingREST struct {
	srv      *restserver.Server
	token    string
	requests atomic.Int64
}

func newREST(redisURL, token string) (*countingREST, error) {
	if redisURL == "" || token == "" {
		return nil, errors.New("REDIS_URL and REST_TOKEN are required")
	}
	srv, err := restserver.New(restserver.Options{RedisURL: redisURL, Token: token})
	if err != nil {
		return nil, err
	}
	return &countingREST{srv: srv, token: token}, nil
}

func (c *countingREST) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/__requests" {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+c.token)) != 1 {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write(strconv.AppendInt(nil, c.requests.Load(), 10))
		return
	}
	c.requests.Add(1)
	c.srv.ServeHTTP(w, r)
}

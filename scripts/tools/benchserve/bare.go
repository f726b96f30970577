package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/ai-rails/state-service/shared/restclient"
	"github.com/ai-rails/state-service/shared/upstash"
)

// The bare path's two scripts: a read, and a write that stores the document
// and answers it.
var (
	bareRead  = upstash.NewScript(`return redis.call('GET', KEYS[1])`).RetrySafe()
	bareWrite = upstash.NewScript(`redis.call('SET', KEYS[1], ARGV[1], 'EX', 86400) return ARGV[1]`)
)

// bare is the reference handler: what any service has to do for a call
// (read the body, decode its JSON, one script call through our Upstash
// client, write the answer), and nothing else. Its keys are the request's
// path, so that a workflow created by POST is read back by GET; a POST
// answers 201 with an id (and approval_id, which the load reads), but a
// decision, which answers 200 as the API's does.
type bare struct {
	c      *upstash.Client
	prefix string // KEY_PREFIX, as the service's keys have
}

func newBare(url, token, prefix string) (*bare, error) {
	if url == "" || token == "" {
		return nil, errors.New("UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN are required")
	}
	c, err := upstash.New(upstash.Options{Options: restclient.Options{URL: url, Token: token}})
	if err != nil {
		return nil, err
	}
	return &bare{c: c, prefix: prefix}, nil
}

func (b *bare) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := b.prefix + "bare:" + r.URL.Path
	var reply any
	var err error
	status := http.StatusOK
	if r.Method == http.MethodGet {
		reply, err = bareRead.Run(r.Context(), b.c, []string{key})
	} else {
		var doc map[string]any
		body, rerr := io.ReadAll(r.Body)
		if rerr != nil || json.Unmarshal(body, &doc) != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		if r.Method == http.MethodPost && !strings.HasSuffix(r.URL.Path, "/decision") {
			id, _ := doc["workflow_id"].(string)
			if r.URL.Path != "/api/workflow/state" || id == "" {
				id = newID()
			}
			doc["id"], doc["approval_id"] = id, id
			key += "/" + id
			status = http.StatusCreated
		}
		stored, _ := json.Marshal(doc)
		reply, err = bareWrite.Run(r.Context(), b.c, []string{key}, stored)
	}
	if err != nil && !errors.Is(err, upstash.ErrNil) {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	s, _ := reply.(string)
	if s == "" {
		s = "null"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, s)
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Package upstashvector is a client of Upstash Vector's REST API, written
// from Upstash's documentation: upsert (vectors, or raw data that Upstash
// embeds), query (by vector or by data), fetch, delete, range, info and
// reset, in the default namespace or a named one, with a bearer token
// (UPSTASH_VECTOR_REST_URL, UPSTASH_VECTOR_REST_TOKEN). It shares its
// transport with the Redis client (package restclient): the same
// options, deadlines, safe retries, circuit breaker and token redaction.
//
// Every request is a POST of a JSON body; the answer is {"result": ...},
// or {"error": "...", "status": n}.
package upstashvector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/ai-rails/state-service/shared/restclient"
)

// name starts the client's errors.
const name = "upstash vector"

// Options configures a Client: the transport's settings, URL
// (UPSTASH_VECTOR_REST_URL) and Token (UPSTASH_VECTOR_REST_TOKEN) first.
type Options struct {
	restclient.Options
}

// Client talks to one Upstash Vector index. It is safe for concurrent use;
// build one per process and share it.
type Client struct {
	rc        *restclient.Client
	namespace string
}

// New returns a Client of the default namespace, after validating the
// options.
func New(o Options) (*Client, error) {
	rc, err := restclient.New(name, o.Options)
	if err != nil {
		return nil, err
	}
	return &Client{rc: rc}, nil
}

// Namespace returns a Client of the same index that works in namespace ns
// ("" is the default namespace).
func (c *Client) Namespace(ns string) *Client { return &Client{rc: c.rc, namespace: ns} }

// String describes the client without its token.
func (c *Client) String() string { return c.rc.String() }

// GoString is String, so that %#v does not print the token either.
func (c *Client) GoString() string { return c.String() }

// CircuitState reports the circuit breaker's state (restclient's names).
func (c *Client) CircuitState() string { return c.rc.CircuitState() }

// Error is an error answered by the index, such as a vector of the wrong
// dimension.
type Error struct {
	Message    string
	StatusCode int
}

func (e *Error) Error() string { return name + ": " + e.Message }

// ErrUnavailable is wrapped by every error that means the index could not
// be reached or did not answer (restclient.ErrUnavailable).
var ErrUnavailable = restclient.ErrUnavailable

// call posts body to the endpoint (in the client's namespace when perNS)
// and decodes the answer's result into out.
func (c *Client) call(ctx context.Context, endpoint string, perNS bool, body any, out any) error {
	path := c.rc.Base() + "/" + endpoint
	if perNS && c.namespace != "" {
		path += "/" + url.PathEscape(c.namespace)
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("%s: encode %s: %w", name, endpoint, err)
	}
	_, _, err = c.rc.Call(ctx, func(ctx context.Context) (any, error) {
		// Every call is safe to run twice: upserts and deletes are
		// idempotent, the rest read.
		resp, err := c.rc.Post(ctx, path, "application/json", payload, nil, true)
		if err != nil {
			return nil, err
		}
		var env struct {
			Result json.RawMessage `json:"result"`
			Error  string          `json:"error"`
		}
		dec := json.NewDecoder(bytes.NewReader(resp.Body))
		if derr := dec.Decode(&env); derr != nil {
			if resp.Status != http.StatusOK {
				return nil, &Error{Message: "HTTP " + strconv.Itoa(resp.Status), StatusCode: resp.Status}
			}
			return nil, c.rc.Unavailable("malformed answer", derr, true, true)
		}
		if resp.Status != http.StatusOK || env.Error != "" {
			msg := env.Error
			if msg == "" {
				msg = "HTTP " + strconv.Itoa(resp.Status)
			}
			return nil, &Error{Message: msg, StatusCode: resp.Status}
		}
		if out != nil {
			if derr := json.Unmarshal(env.Result, out); derr != nil {
				return nil, c.rc.Unavailable("malformed "+endpoint+" result", derr, true, true)
			}
		}
		return nil, nil
	})
	return err
}

// Vector is one vector of the index.
type Vector struct {
	ID       string          `json:"id"`
	Vector   []float32       `json:"vector,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// Data is raw text kept with the vector.
	Data string `json:"data,omitempty"`
}

// Data is a text for Upstash to embed, with the id of its vector.
type Data struct {
	ID       string          `json:"id"`
	Data     string          `json:"data"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
}

// Upsert adds or replaces vectors, in one request.
func (c *Client) Upsert(ctx context.Context, vectors []Vector) error {
	if len(vectors) == 0 {
		return nil
	}
	return c.call(ctx, "upsert", true, vectors, nil)
}

// UpsertData adds or replaces vectors that Upstash embeds from the texts
// (an index made with an embedding model).
func (c *Client) UpsertData(ctx context.Context, data []Data) error {
	if len(data) == 0 {
		return nil
	}
	return c.call(ctx, "upsert-data", true, data, nil)
}

// Query is a query by vector, or by data for an index that embeds.
type Query struct {
	Vector          []float32 `json:"vector,omitempty"`
	Data            string    `json:"data,omitempty"`
	TopK            int       `json:"topK"`
	IncludeMetadata bool      `json:"includeMetadata,omitempty"`
	IncludeVectors  bool      `json:"includeVectors,omitempty"`
	IncludeData     bool      `json:"includeData,omitempty"`
	// Filter is a metadata filter, in Upstash's filter syntax.
	Filter string `json:"filter,omitempty"`
}

// Match is a vector a query found, with its score: a similarity scaled to
// 0..1, 1 the most similar.
type Match struct {
	ID       string          `json:"id"`
	Score    float64         `json:"score"`
	Vector   []float32       `json:"vector,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	Data     string          `json:"data,omitempty"`
}

// Query returns the TopK vectors nearest to q's vector (or to its data,
// embedded by Upstash, when q has no vector), highest score first.
func (c *Client) Query(ctx context.Context, q Query) ([]Match, error) {
	endpoint := "query"
	if q.Vector == nil {
		if q.Data == "" {
			return nil, errors.New(name + ": a query needs a vector or data")
		}
		endpoint = "query-data"
	}
	var out []Match
	err := c.call(ctx, endpoint, true, q, &out)
	return out, err
}

// FetchOptions says what Fetch returns besides the ids.
type FetchOptions struct {
	IncludeMetadata bool
	IncludeVectors  bool
	IncludeData     bool
}

// Fetch reads vectors by id; a missing one is nil.
func (c *Client) Fetch(ctx context.Context, ids []string, o FetchOptions) ([]*Vector, error) {
	body := map[string]any{"ids": ids, "includeMetadata": o.IncludeMetadata, "includeVectors": o.IncludeVectors, "includeData": o.IncludeData}
	var out []*Vector
	err := c.call(ctx, "fetch", true, body, &out)
	return out, err
}

// Delete deletes vectors by id and says how many there were.
func (c *Client) Delete(ctx context.Context, ids []string) (int, error) {
	var out struct {
		Deleted int `json:"deleted"`
	}
	err := c.call(ctx, "delete", true, map[string]any{"ids": ids}, &out)
	return out.Deleted, err
}

// RangeRequest is one page of the index's vectors, in id order.
type RangeRequest struct {
	// Cursor is "" or "0" for the first page, then the last page's
	// NextCursor.
	Cursor          string `json:"cursor"`
	Limit           int    `json:"limit"`
	Prefix          string `json:"prefix,omitempty"`
	IncludeMetadata bool   `json:"includeMetadata,omitempty"`
	IncludeVectors  bool   `json:"includeVectors,omitempty"`
	IncludeData     bool   `json:"includeData,omitempty"`
}

// RangePage is a page of vectors; NextCursor is "" after the last.
type RangePage struct {
	NextCursor string   `json:"nextCursor"`
	Vectors    []Vector `json:"vectors"`
}

// Range reads a page of vectors.
func (c *Client) Range(ctx context.Context, r RangeRequest) (RangePage, error) {
	if r.Cursor == "" {
		r.Cursor = "0"
	}
	var out RangePage
	err := c.call(ctx, "range", true, r, &out)
	return out, err
}

// Info describes the index.
type Info struct {
	VectorCount        int64                    `json:"vectorCount"`
	PendingVectorCount int64                    `json:"pendingVectorCount"`
	IndexSize          int64                    `json:"indexSize"`
	Dimension          int                      `json:"dimension"`
	SimilarityFunction string                   `json:"similarityFunction"`
	Namespaces         map[string]NamespaceInfo `json:"namespaces"`
}

// NamespaceInfo counts a namespace's vectors.
type NamespaceInfo struct {
	VectorCount        int64 `json:"vectorCount"`
	PendingVectorCount int64 `json:"pendingVectorCount"`
}

// Info reads the index's figures.
func (c *Client) Info(ctx context.Context) (Info, error) {
	var out Info
	err := c.call(ctx, "info", false, []any{}, &out)
	return out, err
}

// Reset deletes every vector of the client's namespace.
func (c *Client) Reset(ctx context.Context) error {
	return c.call(ctx, "reset", true, []any{}, nil)
}

// Package openapi holds the OpenAPI 3.1 document of the whole API of
// API.md, serves it, and validates answers against it in tests.
package openapi

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

//go:embed openapi.yaml
var document []byte

// YAML returns the document as written.
func YAML() []byte { return document }

// Load parses and validates the document.
func Load() (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(document)
	if err != nil {
		return nil, fmt.Errorf("openapi: load: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi: invalid document: %w", err)
	}
	return doc, nil
}

var (
	jsonOnce sync.Once
	jsonDoc  []byte
	jsonErr  error
)

// JSON returns the document as JSON.
func JSON() ([]byte, error) {
	jsonOnce.Do(func() {
		var doc *openapi3.T
		if doc, jsonErr = Load(); jsonErr == nil {
			jsonDoc, jsonErr = json.Marshal(doc)
		}
	})
	return jsonDoc, jsonErr
}

// Handler serves the document as JSON, for GET /api/openapi.json.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := JSON()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}

// Validator checks answers against the document.
type Validator struct {
	router routers.Router
}

// The approval page answers HTML, which is checked as text.
func init() { openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder) }

// NewValidator returns a Validator. It matches routes on any host.
func NewValidator() (*Validator, error) {
	doc, err := Load()
	if err != nil {
		return nil, err
	}
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi: router: %w", err)
	}
	return &Validator{router: router}, nil
}

// ErrNoRoute is returned by Check for a request the document has no
// operation for (such as an unknown path): there is nothing to check.
var ErrNoRoute = fmt.Errorf("openapi: no operation for the request")

// Check validates one answer: its status is documented for the operation,
// and its headers and body match. The request's own body is not checked:
// tests send invalid requests on purpose.
func (v *Validator) Check(r *http.Request, status int, header http.Header, body []byte) error {
	route, params, err := v.router.FindRoute(r)
	if err != nil {
		return ErrNoRoute
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: r, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status: status,
		Header: header,
		Body:   io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
		},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("%s %s answered %d, which the OpenAPI document does not allow: %w",
			r.Method, r.URL.Path, status, trim(err))
	}
	return nil
}

func trim(err error) error {
	s := err.Error()
	if len(s) > 2000 {
		s = s[:2000] + "..."
	}
	return fmt.Errorf("%s", strings.TrimSpace(s))
}

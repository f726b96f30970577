package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// apiClient calls the API the way an n8n HTTP Request node does: one
// request at a time per client, keep-alive, with the x-api-key header.
type apiClient struct {
	http *http.Client
	base string
	key  string
}

func newAPIClient(base, key string, conns int) *apiClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conns * 2
	tr.MaxIdleConnsPerHost = conns * 2
	tr.DisableCompression = true
	return &apiClient{http: &http.Client{Transport: tr, Timeout: 30 * time.Second}, base: base, key: key}
}

// do makes one call, reads the whole answer into buf, and returns the status.
// header adds name, value pairs to the request's headers.
func (c *apiClient) do(method, path string, body []byte, buf *bytes.Buffer, header ...string) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("x-api-key", c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return resp.StatusCode, err
	}
	return resp.StatusCode, nil
}

// must makes a call that has to answer want, for the setup steps.
func (c *apiClient) must(method, path string, body []byte, want int, header ...string) ([]byte, error) {
	var buf bytes.Buffer
	status, err := c.do(method, path, body, &buf, header...)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if status != want {
		return nil, fmt.Errorf("%s %s: %d, want %d: %s", method, path, status, want, buf.Bytes())
	}
	return buf.Bytes(), nil
}

// approvalID reads the approval_id of an approval answer.
func approvalID(raw []byte) (string, error) {
	var a struct {
		ID string `json:"approval_id"`
	}
	if err := json.Unmarshal(raw, &a); err != nil || a.ID == "" {
		return "", fmt.Errorf("no approval_id in %q", raw)
	}
	return a.ID, nil
}

// parallel runs f(i) for i in [0, n) on workers goroutines and returns the
// first error.
func parallel(n, workers int, f func(i int) error) error {
	errc := make(chan error, workers)
	next := make(chan int)
	for range workers {
		go func() {
			var first error
			for i := range next {
				if first == nil {
					first = f(i)
				}
			}
			errc <- first
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	var first error
	for range workers {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}

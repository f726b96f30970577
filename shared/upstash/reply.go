package upstash

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/ai-rails/state-service/shared/restclient"
)

// parseJSON parses an answer body, keeping numbers exact.
func parseJSON(body []byte) (any, error) {
	if v, ok := parseFast(body); ok {
		return v, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("parse answer: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("parse answer: trailing data after JSON value")
	}
	return v, nil
}

func malformed(what string) error {
	return restclient.Unavailable("upstash", "malformed answer: "+what, nil, false, false)
}

// errorMessage returns the "error" member of an answer object, or "".
func errorMessage(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	s, _ := m["error"].(string)
	return s
}

// resultOf reads one {"result": ...} or {"error": ...} envelope and decodes
// the result.
func resultOf(v any) (any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, malformed("result is not an object")
	}
	if e, ok := m["error"]; ok {
		s, _ := e.(string)
		switch {
		// A Redis that cannot serve for a moment (loading its data after a
		// restart, busy with a script) answers a command of a pipeline as
		// it answers one alone: the store is unavailable, not the command
		// wrong. Not retried: the pipeline's other commands may have run.
		case isTransientMessage(s):
			return nil, restclient.Unavailable("upstash", s, nil, false, false)
		case isThrottleMessage(s):
			return nil, restclient.Unavailable("upstash", s, restclient.ErrThrottled, false, false)
		}
		return nil, newError(s, 0)
	}
	r, ok := m["result"]
	if !ok {
		return nil, malformed(`no "result" member`)
	}
	if r == nil {
		return nil, ErrNil
	}
	return decodeValue(r)
}

// decodeValue undoes the base64 encoding of every string in a result, nested
// arrays included. "OK" is the one status reply Upstash leaves unencoded.
func decodeValue(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		if x == "OK" {
			return x, nil
		}
		b, err := base64.StdEncoding.DecodeString(x)
		if err != nil {
			return nil, malformed("string is not base64")
		}
		return string(b), nil
	case json.Number:
		i, err := x.Int64()
		if err != nil {
			return nil, malformed("number is not an integer")
		}
		return i, nil
	case []any:
		for i, e := range x {
			d, err := decodeValue(e)
			if err != nil {
				return nil, err
			}
			x[i] = d
		}
		return x, nil
	}
	return nil, malformed(fmt.Sprintf("unexpected %T in result", v))
}

// String converts a reply to a string, in the style of redigo's helpers:
// String(c.Do(ctx, "GET", "k")).
func String(v any, err error) (string, error) {
	if err != nil {
		return "", err
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case nil:
		return "", ErrNil
	}
	return "", fmt.Errorf("upstash: cannot convert %T to string", v)
}

// Int64 converts a reply to an int64; integer strings convert too.
func Int64(v any, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	switch x := v.(type) {
	case int64:
		return x, nil
	case string:
		i, perr := strconv.ParseInt(x, 10, 64)
		if perr != nil {
			return 0, fmt.Errorf("upstash: cannot convert %q to int64", x)
		}
		return i, nil
	case nil:
		return 0, ErrNil
	}
	return 0, fmt.Errorf("upstash: cannot convert %T to int64", v)
}

// Values converts a reply to an array.
func Values(v any, err error) ([]any, error) {
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case []any:
		return x, nil
	case nil:
		return nil, ErrNil
	}
	return nil, fmt.Errorf("upstash: cannot convert %T to array", v)
}

// Strings converts an array reply to strings; nil elements become "".
func Strings(v any, err error) ([]string, error) {
	arr, err := Values(v, err)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(arr))
	for i, e := range arr {
		if e == nil {
			continue
		}
		if out[i], err = String(e, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

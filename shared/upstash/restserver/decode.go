package restserver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// readJSONCommand reads the body of POST /: one command as a JSON array.
func readJSONCommand(r *http.Request) ([]string, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return ParseCommand(body)
}

// readJSONBatch reads the body of /pipeline and /multi-exec.
func readJSONBatch(r *http.Request) ([][]string, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	return ParseBatch(body)
}

// ParseCommand decodes one command, a JSON array of strings, numbers or
// booleans, such as ["SET","k","v","EX",100].
func ParseCommand(body []byte) ([]string, error) {
	var raw []json.RawMessage
	if err := decodeStrict(body, &raw); err != nil {
		return nil, err
	}
	return commandOf(raw)
}

// ParseBatch decodes a pipeline or transaction: a non-empty JSON array of
// commands.
func ParseBatch(body []byte) ([][]string, error) {
	var raw [][]json.RawMessage
	if err := decodeStrict(body, &raw); err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		return nil, errors.New("empty pipeline")
	}
	out := make([][]string, len(raw))
	for i, c := range raw {
		cmd, err := commandOf(c)
		if err != nil {
			return nil, fmt.Errorf("command %d: %w", i, err)
		}
		out[i] = cmd
	}
	return out, nil
}

func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return errors.New("request body is not a JSON array of commands")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("request body has data after the JSON value")
	}
	return nil
}

func commandOf(raw []json.RawMessage) ([]string, error) {
	if len(raw) == 0 {
		return nil, errors.New("empty command")
	}
	out := make([]string, len(raw))
	for i, m := range raw {
		s, err := argOf(m)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	if out[0] == "" {
		return nil, errors.New("empty command name")
	}
	return out, nil
}

// argOf reads one argument, a valid JSON value (decodeStrict has checked
// the body): a string as is, a number or boolean as its text.
func argOf(m json.RawMessage) (string, error) {
	if len(m) == 0 {
		return "", errors.New("empty argument")
	}
	switch m[0] {
	case '"':
		if s, ok := plainString(m); ok {
			return s, nil
		}
		var s string
		err := json.Unmarshal(m, &s)
		return s, err
	case 't', 'f', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return string(m), nil
	}
	return "", errors.New("arguments must be strings, numbers or booleans")
}

// plainString is the fast path for a JSON string with no escapes, the
// usual argument: its text between the quotes, when that is valid UTF-8 and
// holds no control characters. Other strings go through encoding/json.
func plainString(m []byte) (string, bool) {
	if len(m) < 2 || m[len(m)-1] != '"' {
		return "", false
	}
	in := m[1 : len(m)-1]
	ascii := true
	for _, c := range in {
		switch {
		case c == '\\' || c == '"' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	if !ascii && !utf8.Valid(in) {
		return "", false
	}
	return string(in), true
}

// pathCommand reads a path-form command: /set/k/v/EX/100, where a POST or PUT
// body is one more argument after the path's, and query parameters other
// than _token are name/value pairs after that (/set/k?EX=100).
func pathCommand(r *http.Request) ([]string, error) {
	cmd, err := ParsePath(r.URL.EscapedPath())
	if err != nil {
		return nil, err
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPut {
		body, err := readBody(r)
		if err != nil {
			return nil, err
		}
		if len(body) > 0 {
			cmd = append(cmd, string(body))
		}
	}
	return appendQuery(cmd, r.URL.RawQuery)
}

// ParsePath splits an escaped URL path into a command's arguments.
func ParsePath(escaped string) ([]string, error) {
	escaped = strings.TrimPrefix(escaped, "/")
	escaped = strings.TrimSuffix(escaped, "/")
	if escaped == "" {
		return nil, errors.New("empty command")
	}
	parts := strings.Split(escaped, "/")
	for i, p := range parts {
		s, err := url.PathUnescape(p)
		if err != nil {
			return nil, errors.New("bad escape in path")
		}
		parts[i] = s
	}
	if parts[0] == "" {
		return nil, errors.New("empty command name")
	}
	return parts, nil
}

// appendQuery adds query parameters, in the order given, as arguments.
func appendQuery(cmd []string, rawQuery string) ([]string, error) {
	if rawQuery == "" {
		return cmd, nil
	}
	for _, pair := range strings.Split(rawQuery, "&") {
		if pair == "" {
			continue
		}
		k, v, hasValue := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			return nil, errors.New("bad escape in query")
		}
		if name == "_token" {
			continue
		}
		cmd = append(cmd, name)
		if hasValue {
			val, err := url.QueryUnescape(v)
			if err != nil {
				return nil, errors.New("bad escape in query")
			}
			cmd = append(cmd, val)
		}
	}
	return cmd, nil
}

// refused lists the commands Upstash does not serve over REST: blocking
// commands (Upstash's REST API page, "REST - Redis API Compatibility": no
// BLPOP, BRPOP, BRPOPLPUSH, BZPOPMAX, BZPOPMIN, nor XREAD or XREADGROUP
// with BLOCK; its per-command pages say only that @upstash/redis does not
// wrap them), optimistic locking, transactions outside /multi-exec, pub/sub
// outside the SSE routes, and connection and cluster commands other than
// PING and ECHO.
var refused = map[string]bool{
	"BLPOP": true, "BRPOP": true, "BRPOPLPUSH": true, "BLMOVE": true, "BLMPOP": true,
	"BZPOPMIN": true, "BZPOPMAX": true, "BZMPOP": true,
	"WATCH": true, "UNWATCH": true, "MULTI": true, "EXEC": true, "DISCARD": true,
	"SUBSCRIBE": true, "PSUBSCRIBE": true, "SSUBSCRIBE": true, "UNSUBSCRIBE": true,
	"PUNSUBSCRIBE": true, "SUNSUBSCRIBE": true, "MONITOR": true, "SYNC": true, "PSYNC": true,
	"AUTH": true, "HELLO": true, "SELECT": true, "QUIT": true, "RESET": true, "CLIENT": true,
	"CLUSTER": true, "READONLY": true, "READWRITE": true, "ASKING": true, "WAIT": true, "WAITAOF": true,
	"SHUTDOWN": true, "SLAVEOF": true, "REPLICAOF": true, "DEBUG": true, "CONFIG": true,
}

// refusal returns the error text for a command the REST API does not serve,
// or "".
func refusal(cmd []string) string {
	name := strings.ToUpper(cmd[0])
	if refused[name] {
		return fmt.Sprintf("ERR Command is not available: '%s'", strings.ToLower(name))
	}
	if name == "XREAD" || name == "XREADGROUP" {
		for _, a := range cmd[1:] {
			if strings.EqualFold(a, "BLOCK") {
				return fmt.Sprintf("ERR Command is not available: '%s' with BLOCK", strings.ToLower(name))
			}
		}
	}
	return ""
}

// encodeBase64 encodes every string in an answer, except the status "OK",
// as Upstash does for Upstash-Encoding: base64. Errors stay as they are.
func encodeBase64(v any) any {
	switch x := v.(type) {
	case string:
		if x == "OK" {
			return x
		}
		return base64.StdEncoding.EncodeToString([]byte(x))
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = encodeBase64(e)
		}
		return out
	case map[string]any:
		if r, ok := x["result"]; ok {
			return map[string]any{"result": encodeBase64(r)}
		}
		return x
	case error:
		return base64.StdEncoding.EncodeToString([]byte(x.Error()))
	}
	return v
}

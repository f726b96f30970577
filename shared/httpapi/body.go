package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ai-rails/state-service/shared/observe"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ai-rails/state-service/shared/apperr"
)

// MaxBodyBytes is the largest request body the API takes: 256 KiB.
const MaxBodyBytes = 256 << 10

// JSON media types the API takes in request bodies.
var jsonTypes = map[string]bool{"application/json": true, "application/merge-patch+json": true}

// ReadBody reads a request body of at most MaxBodyBytes and checks that its
// Content-Type is one of allowed (media types without parameters). It
// answers too-large and unsupported-media-type errors.
func ReadBody(w http.ResponseWriter, r *http.Request, allowed map[string]bool) ([]byte, string, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !allowed[strings.ToLower(mt)] {
		return nil, "", apperr.New(apperr.UnsupportedMediaType, "Content-Type must be one of %s", typeList(allowed))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, "", apperr.New(apperr.UnsupportedMediaType, "the charset must be utf-8")
	}
	if r.ContentLength > MaxBodyBytes {
		return nil, "", tooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, "", tooLarge()
		}
		return nil, "", apperr.Wrap(apperr.Validation, err, "the request body could not be read")
	}
	return body, strings.ToLower(mt), nil
}

func tooLarge() error {
	return apperr.New(apperr.TooLarge, "the request body exceeds %d bytes", MaxBodyBytes)
}

func typeList(allowed map[string]bool) string {
	return strings.Join(slices.Sorted(maps.Keys(allowed)), ", ")
}

// DecodeJSON reads a JSON request body into dst: application/json (or
// application/merge-patch+json), UTF-8, at most MaxBodyBytes, one value with
// no unknown top-level fields.
func DecodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	body, _, err := ReadBody(w, r, jsonTypes)
	if err != nil {
		return err
	}
	return Unmarshal(body, dst)
}

// Unmarshal decodes a JSON body strictly into dst, with the API's errors:
// invalid UTF-8, bad syntax, a wrong type, unknown fields or trailing data
// are validation errors.
func Unmarshal(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return apperr.New(apperr.Validation, "the request body is empty; send a JSON object")
	}
	if !utf8.Valid(body) {
		return apperr.New(apperr.Validation, "the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return apperr.New(apperr.Validation, "the request body has data after the JSON value")
	}
	return nil
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return apperr.New(apperr.Validation, "the request body is not valid JSON (at byte %d)", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return apperr.New(apperr.Validation, "the request body must be a JSON %s", jsonKind(typ.Type.Kind().String()))
		}
		return apperr.Invalid(apperr.Field(typ.Field, "must be %s", jsonKind(typ.Type.Kind().String())))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.New(apperr.Validation, "the request body is truncated JSON")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		field := strings.Trim(name, `"`)
		return apperr.Invalid(apperr.Field(field, "is not a known field"))
	}
	return apperr.Wrap(apperr.Validation, err, "the request body is not valid JSON")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	}
	return fmt.Sprintf("of type %s", goKind)
}

// WriteJSON answers v as JSON with the status. An answer that does not
// encode is a 500, logged at ERROR with the request id.
func WriteJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		observe.Logger(r.Context()).Error("request failed: the answer does not encode", "status", http.StatusInternalServerError, "error", err)
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"type":"` + ProblemTypePrefix + `internal","title":"Internal error","status":500}`)
		w.Header().Set("Content-Type", ProblemContentType)
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

package httpkit

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/observe"
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
			// The caller may have set a tighter limit than the API's.
			return nil, "", apperr.New(apperr.TooLarge, "the request body exceeds %d bytes", min(mbe.Limit, MaxBodyBytes))
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
// invalid UTF-8, bad syntax, a wrong type, unknown fields, a duplicate field
// (at any depth) or trailing data are validation errors. Field names match
// exactly: {"WORKFLOW_ID": ...} is an unknown field, not workflow_id. So a
// gateway, or a check in n8n, that reads the body sees what is stored.
// Every route decodes its JSON here.
func Unmarshal(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return apperr.New(apperr.Validation, "the request body is empty; send a JSON object")
	}
	if !utf8.Valid(body) {
		return apperr.New(apperr.Validation, "the request body is not valid UTF-8")
	}
	if err := json.Unmarshal(body, dst, strict); err != nil {
		return jsonError(err)
	}
	return nil
}

// strict is the decoding the API uses: encoding/json/v2's defaults (exact
// names, no duplicate names, UTF-8 only, nothing after the value), and no
// unknown fields.
var strict = json.JoinOptions(json.RejectUnknownMembers(true), jsontext.AllowDuplicateNames(false), json.MatchCaseInsensitiveNames(false))

func jsonError(err error) error {
	var syn *jsontext.SyntacticError
	var sem *json.SemanticError
	switch {
	case errors.As(err, &syn) && errors.Is(syn.Err, jsontext.ErrDuplicateName):
		return apperr.Invalid(apperr.Field(fieldName(syn.JSONPointer), "appears more than once"))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.New(apperr.Validation, "the request body is truncated JSON")
	case errors.As(err, &syn):
		return apperr.New(apperr.Validation, "the request body is not valid JSON (at byte %d)", syn.ByteOffset)
	case errors.As(err, &sem) && errors.Is(sem.Err, json.ErrUnknownName):
		return apperr.Invalid(apperr.Field(fieldName(sem.JSONPointer), "is not a known field"))
	case errors.As(err, &sem) && sem.GoType != nil:
		field := fieldName(sem.JSONPointer)
		kind := jsonKind(sem.GoType.Kind().String())
		if sem.GoType.Kind() == reflect.Pointer {
			kind = jsonKind(sem.GoType.Elem().Kind().String())
		}
		if field == "" {
			return apperr.New(apperr.Validation, "the request body must be a JSON %s", kind)
		}
		return apperr.Invalid(apperr.Field(field, "must be %s", kind))
	}
	return apperr.Wrap(apperr.Validation, err, "the request body is not valid JSON")
}

// fieldName writes a JSON pointer as the API names fields:
// /failure_details/0/line is failure_details[0].line.
func fieldName(p jsontext.Pointer) string {
	var b strings.Builder
	for tok := range p.Tokens() {
		if _, err := strconv.Atoi(tok); err == nil && b.Len() > 0 {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
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
	enc := stdjson.NewEncoder(&buf)
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

package httpkit_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/httpkit"
)

// FuzzUnmarshal feeds arbitrary bodies to the strict JSON decoder every
// route uses: it must decode or return a validation error, never panic.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{`{"name":"a","n":1,"meta":{}}`, `{"nope":1}`, `{"n":"x"}`, `[]`, ``, "\xff", `{"a":1} x`, `{"meta":{"a":[1,{"b":null}]}}`,
		`{"NAME":"a"}`, `{"name":"a","name":"b"}`, `{"meta":{"x":1,"x":2}}`, `{"name":"\u00e9"}`, `{"n":1e2}`, `{"n":1.0}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var th thing
		err := httpkit.Unmarshal(body, &th)
		if err != nil && apperr.KindOf(err) != apperr.Validation {
			t.Fatalf("body %q: error of kind %d, want validation: %v", body, apperr.KindOf(err), err)
		}
		if err != nil {
			return
		}
		// No parser differential: what the strict decoder takes, the
		// standard library reads the same way (it has no duplicate names
		// or case-folded names to resolve differently).
		var std thing
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&std); err != nil {
			t.Fatalf("body %q: taken by the strict decoder, refused by encoding/json: %v", body, err)
		}
		if !reflect.DeepEqual(th, std) {
			t.Fatalf("body %q: strict %+v, encoding/json %+v", body, th, std)
		}
	})
}

package httpapi_test

import (
	"testing"

	"github.com/ai-rails/state-service/shared/apperr"
	"github.com/ai-rails/state-service/shared/httpapi"
)

// FuzzUnmarshal feeds arbitrary bodies to the strict JSON decoder every
// route uses: it must decode or return a validation error, never panic.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{`{"name":"a","n":1,"meta":{}}`, `{"nope":1}`, `{"n":"x"}`, `[]`, ``, "\xff", `{"a":1} x`, `{"meta":{"a":[1,{"b":null}]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var th thing
		err := httpapi.Unmarshal(body, &th)
		if err != nil && apperr.KindOf(err) != apperr.Validation {
			t.Fatalf("body %q: error of kind %d, want validation: %v", body, apperr.KindOf(err), err)
		}
	})
}
